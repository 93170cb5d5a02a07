#include "labdesk/agent/domain_xml.hpp"

#include <charconv>
#include <ctime>
#include <sstream>

namespace labdesk::agent {
namespace {

std::string xml_unescape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    auto end = s.find(';', i);
    if (end == std::string_view::npos) {
      out += s.substr(i);
      break;
    }
    auto ent = s.substr(i + 1, end - i - 1);
    if (ent == "amp") out += '&';
    else if (ent == "lt") out += '<';
    else if (ent == "gt") out += '>';
    else if (ent == "quot") out += '"';
    else if (ent == "apos") out += '\'';
    else out += std::string("&") + std::string(ent) + ";";
    i = end;
  }
  return out;
}

// Text of the first <prefix:tag> or <tag> element, whatever prefix libvirt chose when it
// serialised the metadata back.
std::optional<std::string> element_text(std::string_view xml, std::string_view tag) {
  std::size_t pos = 0;
  while ((pos = xml.find('<', pos)) != std::string_view::npos) {
    auto close = xml.find('>', pos);
    if (close == std::string_view::npos) return std::nullopt;
    std::string_view name = xml.substr(pos + 1, close - pos - 1);
    if (auto colon = name.find(':'); colon != std::string_view::npos) name = name.substr(colon + 1);
    if (name == tag) {
      auto end = xml.find("</", close);
      if (end == std::string_view::npos) return std::nullopt;
      return xml_unescape(xml.substr(close + 1, end - close - 1));
    }
    pos = close;
  }
  return std::nullopt;
}

template <typename T>
T number(const std::optional<std::string>& s) {
  T v{};
  if (s) std::from_chars(s->data(), s->data() + s->size(), v);
  return v;
}

}  // namespace

std::string render_graphics(const std::string& listen, const std::string& password, const std::string& valid_to) {
  const auto e = [](const std::string& v) { return xml_escape(v); };
  std::ostringstream o;
  o << "    <graphics type='vnc' autoport='yes' listen='" << e(listen) << "' passwd='" << e(password) << "'";
  if (!valid_to.empty()) o << " passwdValidTo='" << e(valid_to) << "'";
  o << ">\n"
    << "      <listen type='address' address='" << e(listen) << "'/>\n"
    << "    </graphics>\n";
  return o.str();
}

std::string utc_timestamp(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return buf;
}

std::string xml_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '\'': out += "&apos;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string render_metadata(const DesktopMeta& m, bool prefixed) {
  const std::string p = prefixed ? std::string(kMetadataPrefix) + ":" : "";
  std::ostringstream o;
  auto el = [&](const char* tag, const std::string& v) {
    o << "      <" << p << tag << ">" << xml_escape(v) << "</" << p << tag << ">\n";
  };
  if (prefixed) {
    o << "    <" << p << "desktop xmlns:" << kMetadataPrefix << "='" << kMetadataNs << "'>\n";
  } else {
    o << "    <desktop>\n";
  }
  el("user", m.user);
  el("session", m.session);
  el("image", m.image);
  el("tier", std::to_string(m.tier));
  el("data_disk", m.data_disk);
  el("overlay", m.overlay);
  el("max_memory_mib", std::to_string(m.max_memory_mib));
  el("restarts", std::to_string(m.restarts));
  el("memory_mib", std::to_string(m.memory_mib));
  if (m.boots_elsewhere > 0) el("boots_elsewhere", std::to_string(m.boots_elsewhere));
  o << "    </" << p << "desktop>\n";
  return o.str();
}

std::optional<DesktopMeta> parse_metadata(std::string_view xml) {
  // libvirt looks the element up by namespace and returns it without the prefix.
  if (xml.find("desktop") == std::string_view::npos) return std::nullopt;
  DesktopMeta m;
  auto user = element_text(xml, "user");
  auto overlay = element_text(xml, "overlay");
  if (!user || !overlay) return std::nullopt;
  m.user = *user;
  m.overlay = *overlay;
  m.session = element_text(xml, "session").value_or("");
  m.image = element_text(xml, "image").value_or("");
  m.data_disk = element_text(xml, "data_disk").value_or("");
  m.tier = number<int>(element_text(xml, "tier"));
  m.max_memory_mib = number<std::int64_t>(element_text(xml, "max_memory_mib"));
  m.restarts = number<int>(element_text(xml, "restarts"));
  m.memory_mib = number<std::int64_t>(element_text(xml, "memory_mib"));
  m.boots_elsewhere = number<int>(element_text(xml, "boots_elsewhere"));
  return m;
}

std::string render_domain_xml(const DomainSpec& s) {
  auto e = [](const std::string& v) { return xml_escape(v); };
  std::ostringstream o;
  const bool kvm = s.accel == "kvm";
  o << "<domain type='" << (kvm ? "kvm" : "qemu") << "'>\n"
    << "  <name>" << e(s.name) << "</name>\n"
    << "  <metadata>\n" << render_metadata(s.meta) << "  </metadata>\n"
    << "  <memory unit='MiB'>" << s.max_memory_mib << "</memory>\n"
    << "  <currentMemory unit='MiB'>" << s.memory_mib << "</currentMemory>\n"
    << "  <vcpu>" << s.vcpus << "</vcpu>\n"
    << "  <os>\n"
    << "    <type arch='x86_64' machine='pc'>hvm</type>\n";
  if (!s.kernel.empty()) {
    o << "    <kernel>" << e(s.kernel) << "</kernel>\n";
    if (!s.initrd.empty()) o << "    <initrd>" << e(s.initrd) << "</initrd>\n";
    o << "    <cmdline>" << e(s.cmdline) << "</cmdline>\n";
  } else {
    o << "    <boot dev='hd'/>\n";
  }
  o << "  </os>\n"
    << "  <features><acpi/></features>\n"
    // host-model, not host-passthrough: libvirt pins the named model and its features, so a
    // desktop can move live to another host with the same or a newer CPU.
    << (kvm ? "  <cpu mode='host-model' check='partial'/>\n"
            : "  <cpu mode='custom' match='exact' check='none'><model fallback='allow'>qemu64</model></cpu>\n")
    << "  <on_poweroff>destroy</on_poweroff>\n"
    << "  <on_reboot>restart</on_reboot>\n"
    << "  <on_crash>destroy</on_crash>\n"
    << "  <devices>\n"
    << "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
    << "    <!-- vda: throwaway overlay on the read-only base '" << e(s.base) << "' -->\n"
    << "    <disk type='file' device='disk'>\n"
    << "      <driver name='qemu' type='qcow2' discard='unmap'/>\n"
    << "      <source file='" << e(s.meta.overlay) << "'/>\n"
    << "      <target dev='vda' bus='virtio'/>\n"
    << "    </disk>\n";
  if (!s.meta.data_disk.empty()) o << "    <!-- vdb: the user's persistent data disk -->\n" << render_data_disk(s.meta.data_disk);
  if (!s.console_socket.empty()) {
    o << "    <serial type='unix'>\n"
      << "      <source mode='bind' path='" << e(s.console_socket) << "'/>\n";
    if (!s.console_log.empty()) o << "      <log file='" << e(s.console_log) << "' append='on'/>\n";
    o << "      <target port='0'/>\n"
      << "    </serial>\n";
  } else if (!s.console_log.empty()) {
    // A plain file never blocks the guest (an unconnected socket stalls its serial output).
    o << "    <serial type='file'>\n"
      << "      <source path='" << e(s.console_log) << "' append='on'/>\n"
      << "      <target port='0'/>\n"
      << "    </serial>\n";
  }
  o << render_interface(s.network)
    << render_graphics(s.vnc_listen, s.vnc_password, s.vnc_password_valid_to)
    << "    <video><model type='vga' vram='16384' heads='1'/></video>\n"
    << "    <memballoon model='virtio'>\n"
    << "      <stats period='2'/>\n"
    << "    </memballoon>\n"
    << "  </devices>\n"
    << "</domain>\n";
  return o.str();
}

std::string render_data_disk(const std::string& path) {
  return "    <disk type='file' device='disk'>\n"
         "      <driver name='qemu' type='qcow2' cache='writeback'/>\n"
         "      <source file='" + xml_escape(path) + "'/>\n"
         "      <target dev='vdb' bus='virtio'/>\n"
         "    </disk>\n";
}

namespace {

// Replaces every quoted attribute value `from` ('…' or "…") by `to`.
void swap_attribute(std::string& xml, const std::string& from, const std::string& to) {
  if (from.empty() || from == to) return;
  for (char q : {'\'', '"'}) {
    const std::string a = q + xml_escape(from) + q;
    const std::string b = q + xml_escape(to) + q;
    for (auto at = xml.find(a); at != std::string::npos; at = xml.find(a, at + b.size())) xml.replace(at, a.size(), b);
  }
}

// Replaces the text of every element whose whole text is `from` (<kernel>, <initrd>).
void swap_text(std::string& xml, const std::string& from, const std::string& to) {
  if (from.empty() || from == to) return;
  const std::string a = ">" + xml_escape(from) + "<";
  const std::string b = ">" + xml_escape(to) + "<";
  for (auto at = xml.find(a); at != std::string::npos; at = xml.find(a, at + b.size())) xml.replace(at, a.size(), b);
}

}  // namespace

std::optional<std::string> migration_xml(std::string xml, const HostPaths& from, const HostPaths& to,
                                         const DesktopMeta& meta) {
  const std::string open = "<" + std::string(kMetadataPrefix) + ":desktop";
  const std::string close = "</" + std::string(kMetadataPrefix) + ":desktop>";
  auto begin = xml.find(open);
  auto end = xml.find(close, begin == std::string::npos ? 0 : begin);
  if (begin == std::string::npos || end == std::string::npos) return std::nullopt;
  // The metadata is rendered anew (render_metadata ends with a newline the original lacks).
  std::string element = render_metadata(meta);
  element = element.substr(element.find('<'));
  while (!element.empty() && element.back() == '\n') element.pop_back();
  xml.replace(begin, end + close.size() - begin, element);
  for (const auto& [a, b] : {std::pair{from.overlay, to.overlay}, {from.console_socket, to.console_socket},
                             {from.console_log, to.console_log}, {from.vnc_listen, to.vnc_listen}}) {
    swap_attribute(xml, a, b);
  }
  swap_text(xml, from.kernel, to.kernel);
  swap_text(xml, from.initrd, to.initrd);
  return xml;
}

int vnc_port_from_xml(std::string_view xml) {
  auto g = xml.find("<graphics type='vnc'");
  if (g == std::string_view::npos) return 0;
  auto end = xml.find('>', g);
  auto attr = xml.substr(g, end - g);
  auto p = attr.find(" port='");
  if (p == std::string_view::npos) return 0;
  int port = 0;
  auto start = attr.data() + p + 7;
  std::from_chars(start, attr.data() + attr.size(), port);
  return port > 0 ? port : 0;
}

}  // namespace labdesk::agent
