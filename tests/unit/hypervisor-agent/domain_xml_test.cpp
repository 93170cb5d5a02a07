#include <doctest/doctest.h>

#include "../common/golden.hpp"
#include "labdesk/agent/domain_xml.hpp"

using namespace labdesk;

namespace {

agent::DomainSpec spec(bool kernel) {
  agent::DomainSpec s;
  s.name = "ld-alice-0a1b2c";
  s.meta = {"alice", "sess-42", kernel ? "deb" : "plain", 1, "/var/lib/labdesk/data/alice.qcow2",
            "/var/lib/labdesk/overlays/ld-alice-0a1b2c.qcow2", 2048, 1};
  s.memory_mib = 1024;
  s.max_memory_mib = 2048;
  s.vcpus = 2;
  s.base = "/var/lib/labdesk/images/deb.qcow2";
  if (kernel) {
    s.kernel = "/var/lib/labdesk/images/vmlinuz";
    s.initrd = "/var/lib/labdesk/images/initrd.gz";
    s.cmdline = "console=ttyS0 quiet labdesk.user=alice labdesk.session=sess-42";
    s.console_socket = "/run/labdesk/console/ld-alice-0a1b2c.sock";
    s.console_log = "/run/labdesk/console/ld-alice-0a1b2c.log";
  }
  s.vnc_listen = "10.0.0.5";
  s.vnc_password = "Ab3&de'9";
  return s;
}

}  // namespace

TEST_CASE("domain XML: direct kernel boot with console matches the golden file") {
  CHECK(test::golden("tests/golden/hypervisor-agent/desktop-kernel.xml", agent::render_domain_xml(spec(true))) == "");
}

TEST_CASE("domain XML: serial console to a file matches the golden file") {
  auto s = spec(false);
  s.console_log = "/run/labdesk/console/ld-alice-0a1b2c.log";
  CHECK(test::golden("tests/golden/hypervisor-agent/desktop-console-file.xml", agent::render_domain_xml(s)) == "");
}

TEST_CASE("domain XML: disk boot without console matches the golden file") {
  CHECK(test::golden("tests/golden/hypervisor-agent/desktop-disk.xml", agent::render_domain_xml(spec(false))) == "");
}

TEST_CASE("domain XML: the essentials are there and values are escaped") {
  auto xml = agent::render_domain_xml(spec(true));
  CHECK(xml.find("<domain type='qemu'>") != std::string::npos);
  CHECK(xml.find("<model fallback='allow'>qemu64</model>") != std::string::npos);
  CHECK(xml.find("<memory unit='MiB'>2048</memory>") != std::string::npos);
  CHECK(xml.find("<currentMemory unit='MiB'>1024</currentMemory>") != std::string::npos);
  CHECK(xml.find("<memballoon model='virtio'>") != std::string::npos);
  CHECK(xml.find("passwd='Ab3&amp;de&apos;9'") != std::string::npos);
  CHECK(xml.find("listen='10.0.0.5'") != std::string::npos);
  CHECK(xml.find("<target dev='vda' bus='virtio'/>") != std::string::npos);
  CHECK(xml.find("<target dev='vdb' bus='virtio'/>") != std::string::npos);
}

TEST_CASE("metadata: what is rendered reads back, with or without the prefix libvirt returns") {
  auto s = spec(true);
  auto m = agent::parse_metadata(agent::render_metadata(s.meta));
  REQUIRE(m);
  CHECK(m->user == "alice");
  CHECK(m->session == "sess-42");
  CHECK(m->image == "deb");
  CHECK(m->tier == 1);
  CHECK(m->data_disk == s.meta.data_disk);
  CHECK(m->overlay == s.meta.overlay);
  CHECK(m->max_memory_mib == 2048);
  CHECK(m->restarts == 1);
  auto plain = agent::parse_metadata("<desktop>\n  <user>bob</user>\n  <overlay>/o/x.qcow2</overlay>\n  <restarts>3</restarts>\n</desktop>");
  REQUIRE(plain);
  CHECK(plain->user == "bob");
  CHECK(plain->restarts == 3);
  CHECK_FALSE(agent::parse_metadata("<other/>"));
  CHECK_FALSE(agent::parse_metadata(""));
}

TEST_CASE("vnc port is read from the live XML") {
  CHECK(agent::vnc_port_from_xml("<graphics type='vnc' port='5901' autoport='yes' listen='127.0.0.1'>") == 5901);
  CHECK(agent::vnc_port_from_xml("<graphics type='vnc' port='-1' autoport='yes'>") == 0);
  CHECK(agent::vnc_port_from_xml("<domain/>") == 0);
}

TEST_CASE("graphics: a console password with its expiry, the element libvirt updates in place") {
  const auto g = agent::render_graphics("10.0.0.5", "pa'ss", "2026-12-02T10:00:00");
  CHECK(g.find("passwd='pa&apos;ss'") != std::string::npos);
  CHECK(g.find("passwdValidTo='2026-12-02T10:00:00'") != std::string::npos);
  CHECK(g.find("autoport='yes' listen='10.0.0.5'") != std::string::npos);
  CHECK(agent::render_graphics("10.0.0.5", "x", "").find("passwdValidTo") == std::string::npos);
  CHECK(agent::utc_timestamp(std::chrono::system_clock::from_time_t(0)) == "1970-01-01T00:00:00");
  CHECK(agent::utc_timestamp(std::chrono::system_clock::from_time_t(1764669600)) == "2025-12-02T10:00:00");
}

TEST_CASE("domain XML: a handoff's replacement starts without the data disk, which plugs in as one element") {
  auto s = spec(true);
  s.meta.data_disk.clear();
  s.cmdline += " labdesk.data=later";
  CHECK(test::golden("tests/golden/hypervisor-agent/desktop-data-later.xml", agent::render_domain_xml(s)) == "");
  CHECK(agent::render_domain_xml(s).find("vdb") == std::string::npos);
  const auto disk = agent::render_data_disk("/d/o'k.qcow2");
  CHECK(disk.find("<source file='/d/o&apos;k.qcow2'/>") != std::string::npos);
  CHECK(disk.find("<target dev='vdb' bus='virtio'/>") != std::string::npos);
  // The same element as the one a desktop started with its data disk has.
  CHECK(agent::render_domain_xml(spec(true)).find(agent::render_data_disk(spec(true).meta.data_disk)) != std::string::npos);
}

TEST_CASE("migration XML: the destination's paths and VNC address replace the source's, the metadata is rewritten") {
  auto source = test::read_source_file("tests/golden/hypervisor-agent/migratable-source.xml");
  agent::HostPaths from{"/var/lib/labdesk/overlays/ld-alice-0a1b2c.qcow2", "/run/labdesk/console/ld-alice-0a1b2c.sock",
                        "/run/labdesk/console/ld-alice-0a1b2c.log", "/var/lib/labdesk/images/vmlinuz",
                        "/var/lib/labdesk/images/initrd.gz", "10.0.0.5"};
  agent::HostPaths to{"/srv/b/overlays/ld-alice-0a1b2c.qcow2", "/run/b/console/ld-alice-0a1b2c.sock",
                      "/run/b/console/ld-alice-0a1b2c.log", "/srv/b/images/vmlinuz", "/srv/b/images/initrd.gz", "10.0.0.6"};
  auto meta = agent::parse_metadata(source);
  REQUIRE(meta);
  meta->overlay = to.overlay;
  meta->boots_elsewhere = meta->restarts + 1;
  auto xml = agent::migration_xml(source, from, to, *meta);
  REQUIRE(xml);
  CHECK(test::golden("tests/golden/hypervisor-agent/desktop-migrated.xml", *xml) == "");
  for (const auto& old : {from.overlay, from.console_socket, from.console_log, from.kernel, from.initrd, from.vnc_listen}) {
    CHECK_MESSAGE(xml->find(old) == std::string::npos, old);
  }
  // What is the same on every host stays: the shared data disk, the console password, the PCI slots.
  CHECK(xml->find("<source file='/var/lib/labdesk/data/alice.qcow2'/>") != std::string::npos);
  CHECK(xml->find("passwd='Ab3de9xy'") != std::string::npos);
  CHECK(xml->find("slot='0x06'") != std::string::npos);
  auto back = agent::parse_metadata(*xml);
  REQUIRE(back);
  CHECK(back->boots_elsewhere == 2);
  CHECK(back->overlay == to.overlay);
  CHECK(back->data_disk == "/var/lib/labdesk/data/alice.qcow2");
}

TEST_CASE("migration XML: a domain without labdesk metadata is refused") {
  CHECK_FALSE(agent::migration_xml("<domain><name>x</name></domain>", {}, {}, {}));
}
