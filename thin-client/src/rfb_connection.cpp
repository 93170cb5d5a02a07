#include "rfb_connection.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <rfb/rfbclient.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <vector>

namespace labdesk::viewer {

namespace {
int tag;  // address only: the key for rfbClientSetClientData

RfbConnection* self(rfbClient* c) { return static_cast<RfbConnection*>(rfbClientGetClientData(c, &tag)); }

void quiet_log(const char* /*format*/, ...) {}

// libvncclient (0.9.14, Debian 12) asks for ExtendedDesktopSize by itself but ignores QEMU's: it
// takes screen id 0 for invalid, and QEMU's one screen has id 0. So at every guest mode switch
// (720x400 text -> 1280x800 bochs-drm) the next full-size rectangle failed as "Rect too large"
// and the link dropped (~0.3 s of frozen picture and a reconnect). A second SetEncodings, which
// replaces the first, asks for the same encodings with plain DesktopSize only, which libvncclient
// follows; QEMU's extended-key ack, already received, is not asked for again (it would come as
// one more desktop-sized rectangle without pixels).
bool ask_for_plain_desktop_size(rfbClient* c, const std::string& names, const RfbOptions& opt) {
  static const std::map<std::string, std::int32_t, std::less<>> codes = {
      {"raw", rfbEncodingRaw},       {"copyrect", rfbEncodingCopyRect}, {"tight", rfbEncodingTight},
      {"hextile", rfbEncodingHextile}, {"zlib", rfbEncodingZlib},       {"zlibhex", rfbEncodingZlibHex},
      {"trle", rfbEncodingTRLE},     {"zrle", rfbEncodingZRLE},         {"zywrle", rfbEncodingZYWRLE},
      {"corre", rfbEncodingCoRRE},   {"rre", rfbEncodingRRE}};
  std::vector<std::int32_t> encs;
  bool tight = false, zlib = false;
  std::istringstream words(names);
  for (std::string w; words >> w;) {
    auto it = codes.find(w);
    if (it == codes.end()) continue;  // libvncclient skipped it too
    encs.push_back(it->second);
    tight = tight || w == "tight";
    zlib = zlib || w == "tight" || w == "zlib" || w == "zlibhex";
  }
  if (zlib && opt.compress_level >= 0 && opt.compress_level <= 9)
    encs.push_back(static_cast<std::int32_t>(rfbEncodingCompressLevel0) + opt.compress_level);
  if (tight && opt.jpeg_quality >= 0)
    encs.push_back(static_cast<std::int32_t>(rfbEncodingQualityLevel0) + opt.jpeg_quality);
  if (tight) encs.push_back(static_cast<std::int32_t>(rfbEncodingLastRect));
  encs.push_back(static_cast<std::int32_t>(rfbEncodingNewFBSize));
  std::vector<char> msg(sz_rfbSetEncodingsMsg + encs.size() * 4);
  rfbSetEncodingsMsg head{};
  head.type = rfbSetEncodings;
  head.nEncodings = htons(static_cast<std::uint16_t>(encs.size()));
  std::memcpy(msg.data(), &head, sz_rfbSetEncodingsMsg);
  for (std::size_t i = 0; i < encs.size(); ++i) {
    std::uint32_t be = htonl(static_cast<std::uint32_t>(encs[i]));
    std::memcpy(msg.data() + sz_rfbSetEncodingsMsg + i * 4, &be, 4);
  }
  return WriteToRFBServer(c, msg.data(), static_cast<unsigned>(msg.size())) != FALSE;
}

void set_keepalive(int fd, int seconds) {
  int on = 1, idle = seconds, intvl = 1, cnt = 3;
  // Unacknowledged data (our input, update requests) also fails the socket within this time.
  unsigned user_timeout = static_cast<unsigned>(seconds + 3) * 1000U;
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
  setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}
}  // namespace

struct RfbCallbacks {
  static char* password(rfbClient* c) {
    auto* s = self(c);
    // A server (or someone in between) that offers plain VNC authentication or anonymous TLS
    // gets no password to crack or relay: only X509VNC has checked whom we talk to.
    if (s->tls_ && !(c->authScheme == rfbVeNCrypt && c->subAuthScheme == rfbVeNCryptX509VNC)) {
      s->refused_ = "the console offered security type " + std::to_string(c->authScheme) + "/" +
                    std::to_string(c->subAuthScheme) + ", not VeNCrypt x509 (19/261): check vnc_tls = 1 on the host";
      return nullptr;
    }
    return strdup(s->password_.c_str());
  }
  static rfbCredential* credential(rfbClient* c, int type) {
    if (type != rfbCredentialTypeX509) return nullptr;
    auto* cred = static_cast<rfbCredential*>(calloc(1, sizeof(rfbCredential)));  // libvncclient frees it
    if (cred) cred->x509Credential.x509CACertFile = strdup(self(c)->ca_file_.c_str());
    return cred;
  }
  static rfbBool resize(rfbClient* c) {
    // libvncclient's own allocator mallocs, which may hand back an earlier connection's picture;
    // calloc'd memory is zero (fresh pages need no clearing, so no cost on the first frame's path).
    free(c->frameBuffer);
    c->frameBuffer = static_cast<std::uint8_t*>(
        calloc(static_cast<std::size_t>(c->width) * static_cast<std::size_t>(c->height), 4));
    if (!c->frameBuffer) return FALSE;
    self(c)->listener_.on_resize(c->width, c->height);
    return TRUE;
  }
  static void got(rfbClient* c, int x, int y, int w, int h) {
    auto* s = self(c);
    // libvncclient reports QEMU's extended-key pseudo-rectangle (sent once, sized like the whole
    // desktop, no pixels) like a decoded one; counted, it made an empty framebuffer look like a
    // complete (black) first frame. It is the rectangle that turns the QEMU message bit on.
    if (!s->qemu_key_seen_ && SupportsClient2Server(c, rfbQemuEvent) && x == 0 && y == 0 && w == c->width &&
        h == c->height) {
      s->qemu_key_seen_ = true;
      return;
    }
    s->listener_.on_rect(Rect{x, y, w, h});
  }
  static void done(rfbClient* c) { self(c)->listener_.on_update_done(); }
  static void cut(rfbClient* c, const char* text, int len) {
    self(c)->listener_.on_clipboard(std::string(text, static_cast<std::size_t>(len)));
  }
};

Result<std::unique_ptr<RfbConnection>> RfbConnection::open(const Target& target, const RfbOptions& opt,
                                                           RfbListener& listener) {
  if (!opt.library_log) {  // its defaults print to stderr; process-wide, like the library's state
    rfbClientLog = quiet_log;
    rfbClientErr = quiet_log;
  }
  rfbClient* c = rfbGetClient(8, 3, 4);
  if (!c) return fail("rfb_failed", "libvncclient could not allocate a client", 500);
  // XRGB8888 in host order = SDL_PIXELFORMAT_RGB888: uploads are plain copies.
  c->format.redShift = 16;
  c->format.greenShift = 8;
  c->format.blueShift = 0;
  auto conn = std::unique_ptr<RfbConnection>(new RfbConnection(c, listener));
  conn->password_ = target.vnc_password;
  conn->ca_file_ = opt.ca_file;
  conn->tls_ = target.endpoint.tls;
  rfbClientSetClientData(c, &tag, conn.get());
  c->GetPassword = &RfbCallbacks::password;
  if (!opt.ca_file.empty()) c->GetCredential = &RfbCallbacks::credential;
  if (conn->tls_) {
    if (opt.ca_file.empty()) {
      return fail("rfb_tls", "the desktop's console needs TLS but this viewer has no lab CA: start it with --ca FILE", 502);
    }
    static const std::uint32_t only_vencrypt[] = {rfbVeNCrypt, 0};
    SetClientAuthSchemes(c, only_vencrypt, -1);
  }
  c->MallocFrameBuffer = &RfbCallbacks::resize;
  c->GotFrameBufferUpdate = &RfbCallbacks::got;
  c->FinishedFrameBufferUpdate = &RfbCallbacks::done;
  c->GotXCutText = &RfbCallbacks::cut;
  c->canHandleNewFBSize = TRUE;
  // Exclusive (RFB shared-flag 0): a desktop has one viewer. QEMU then drops any other client,
  // so the PC a session roamed away from loses the picture even before it hears "ended".
  c->appData.shareDesktop = FALSE;
  conn->encodings_ = !opt.encodings.empty() ? opt.encodings
                     : opt.jpeg_quality >= 0     ? "tight zrle copyrect hextile zlib raw"
                                                 : "zrle tight copyrect hextile zlib raw";
  c->appData.encodingsString = conn->encodings_.c_str();
  c->appData.compressLevel = opt.compress_level;
  c->appData.enableJPEG = opt.jpeg_quality >= 0 ? TRUE : FALSE;
  c->appData.qualityLevel = opt.jpeg_quality >= 0 ? opt.jpeg_quality : 9;
  c->appData.useRemoteCursor = FALSE;  // QEMU draws the cursor into the frame
  c->connectTimeout = static_cast<unsigned>(opt.connect_timeout_s);
  c->readTimeout = static_cast<unsigned>(opt.read_timeout_s);
  free(c->serverHost);  // rfbGetClient's placeholder ""
  c->serverHost = strdup(target.endpoint.host.c_str());
  c->serverPort = target.endpoint.port;
  if (!rfbInitClient(c, nullptr, nullptr)) {
    conn->client_ = nullptr;  // rfbInitClient frees the client on failure
    const std::string where = target.endpoint.host + ":" + std::to_string(target.endpoint.port);
    if (!conn->refused_.empty()) return fail("rfb_tls", "desktop at '" + where + "' refused: " + conn->refused_, 502);
    return fail("rfb_connect_failed",
                "cannot open the desktop at '" + where +
                    (conn->tls_ ? "' over TLS (refused, unreachable, wrong password, no VeNCrypt, or a certificate that "
                                  "does not chain to the lab CA or name '" + target.endpoint.host + "')"
                                : "' (refused, unreachable or wrong password)"),
                502);
  }
  if (!ask_for_plain_desktop_size(c, conn->encodings_, opt))
    return fail("rfb_connect_failed", "the desktop at '" + target.endpoint.host + ":" +
                                          std::to_string(target.endpoint.port) + "' closed the connection", 502);
  set_keepalive(c->sock, opt.keepalive_s);
  return conn;
}

RfbConnection::~RfbConnection() {
  if (!client_) return;
  free(client_->frameBuffer);  // the application's: rfbClientCleanup leaves it
  client_->frameBuffer = nullptr;
  rfbClientCleanup(client_);
}

int RfbConnection::fd() const { return client_->sock; }

Result<void> RfbConnection::pump() {
  // libvncclient reads ahead into its own buffer: keep going while it holds a message.
  do {
    int n = WaitForMessage(client_, 0);
    if (n < 0) return fail("rfb_lost", "the desktop connection failed", 502);
    if (n == 0 && client_->buffered == 0) return {};
    if (!HandleRFBServerMessage(client_)) return fail("rfb_lost", "the desktop connection was lost", 502);
  } while (client_->buffered > 0);
  return {};
}

int RfbConnection::width() const { return client_->width; }
int RfbConnection::height() const { return client_->height; }
const std::uint8_t* RfbConnection::pixels() const { return client_->frameBuffer; }
std::string RfbConnection::desktop_name() const { return client_->desktopName ? client_->desktopName : ""; }

void RfbConnection::key(std::uint32_t keysym, bool down) { SendKeyEvent(client_, keysym, down ? TRUE : FALSE); }
void RfbConnection::pointer(int x, int y, int buttons) { SendPointerEvent(client_, x, y, buttons); }
void RfbConnection::clipboard(const std::string& latin1) {
  std::string copy = latin1;
  SendClientCutText(client_, copy.data(), static_cast<int>(copy.size()));
}

}  // namespace labdesk::viewer
