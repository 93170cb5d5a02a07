#include <doctest/doctest.h>

#include "../../common/golden.hpp"
#include "../fixtures.hpp"
#include "pxe/render.hpp"

namespace {

using namespace labdesk;
const boot::DnsmasqPaths kPaths{"/var/lib/labdesk/tftp", "/var/lib/labdesk/dnsmasq.leases", "/var/lib/labdesk/dnsmasq.hosts"};

TEST_CASE("dnsmasq config, full DHCP (golden)") {
  auto c = test::lab();
  const std::string out = boot::render_dnsmasq_conf(c, kPaths);
  CHECK(test::golden("tests/golden/boot-server/dnsmasq-full.conf", out) == "");
  // The traps, named so a golden regeneration cannot lose them silently.
  CHECK(out.find("\nport=0\n") != std::string::npos);
  CHECK(out.find("\nno-ping\n") != std::string::npos);
  CHECK(out.find("\nenable-ra\n") != std::string::npos);
  CHECK(out.find("ra-only") != std::string::npos);
  CHECK(out.find("encap:175,176,1b") != std::string::npos);
  for (const char* arch : {",0\n", ",6\n", ",7\n", ",9\n"}) CHECK(out.find(std::string("option:client-arch") + arch) != std::string::npos);
  CHECK(out.find("dhcp-boot=tag:!ipxe,tag:bios,undionly.kpxe") != std::string::npos);
  CHECK(out.find("dhcp-boot=tag:!ipxe,tag:efi64,snponly.efi") != std::string::npos);
  CHECK(out.find("dhcp-boot=tag:ipxe,http://10.77.0.1:8080/boot.ipxe") != std::string::npos);
}

TEST_CASE("dnsmasq config, proxy DHCP (golden): no range, no no-pxedhcp, pxe-service per arch") {
  auto c = test::lab("");
  c.lab.dhcp = "proxy";
  c.boot.uefi32_loader = "ipxe-i386.efi";
  c.lab.ipv6_ra = false;
  const std::string out = boot::render_dnsmasq_conf(c, kPaths);
  CHECK(test::golden("tests/golden/boot-server/dnsmasq-proxy.conf", out) == "");
  CHECK(out.find("dhcp-range=set:lab,10.77.0.0,proxy,255.255.255.0") != std::string::npos);
  CHECK(out.find("encap:175,176") == std::string::npos);
  CHECK(out.find("no-ping") == std::string::npos);
  CHECK(out.find("enable-ra") == std::string::npos);
  CHECK(out.find("IA32_EFI") != std::string::npos);
}

TEST_CASE("reservations become a dhcp-hostsfile with lower-case MACs") {
  CHECK(boot::render_dhcp_hosts(test::lab().reservations) == "52:54:00:77:00:10,10.77.0.10,pc10\n52:54:00:aa:00:11,10.77.0.11\n");
  CHECK(boot::render_dhcp_hosts({}).empty());
}

TEST_CASE("boot.ipxe names the version and the initrd on the kernel line (golden)") {
  auto c = test::lab();
  const auto vars = boot::boot_script_vars(c, "0123456789abcdef");
  const std::string builtin = boot::render_boot_script("", vars);
  CHECK(test::golden("tests/golden/boot-server/boot.ipxe", builtin) == "");
  CHECK(builtin.find("kernel http://10.77.0.1:8081/boot/0123456789abcdef/vmlinuz initrd=initrd.cpio.gz") != std::string::npos);
  CHECK(builtin.find("labdesk.announce=http://10.77.0.1:8080/v1/announce") != std::string::npos);
  CHECK(builtin.find("quiet labdesk.boot=0123456789abcdef") != std::string::npos);
  // Template comments are for pxe-assets' readers, not for the PC.
  CHECK(boot::render_boot_script("#!ipxe\n# doc @HTTP_BASE@\nchain @HTTP_BASE@/x @NOPE@\n", vars) ==
        "#!ipxe\nchain http://10.77.0.1:8081/boot/0123456789abcdef/x @NOPE@\n");
}

TEST_CASE("config: the network sections are checked for meaning") {
  CHECK_THROWS_WITH_AS(test::lab("[nat]\nport_min = 8000\nport_max = 9000\n"),
                       doctest::Contains("include boot.http_port 8080"), config::ConfigError);
  CHECK_THROWS_WITH_AS(test::lab("[[reservations]]\nmac = \"52:54:00:77:00:10\"\nip = \"10.77.0.12\"\n"),
                       doctest::Contains("MAC '52:54:00:77:00:10' is reserved twice"), config::ConfigError);
  CHECK_THROWS_WITH_AS(test::lab("[[reservations]]\nmac = \"52:54:00:77:00\"\nip = \"10.1.0.12\"\n"),
                       doctest::Contains("is outside the lab subnet"), config::ConfigError);
  CHECK_THROWS_WITH_AS(test::lab("[api]\naddress = \"10.77.0.1\"\n"), doctest::Contains("without a token"), config::ConfigError);
  auto c = test::lab();
  CHECK(c.lab.dhcp == "full");
  CHECK(c.nat.port_min == 15900);
  CHECK(c.boot.keep_versions == 3);
}

}  // namespace
