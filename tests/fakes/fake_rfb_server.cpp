#include "fake_rfb_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace labdesk::fakes {
namespace {

int free_port() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  bind(s, reinterpret_cast<sockaddr*>(&a), len);
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  close(s);
  return port;
}

FakeRfbServer* self(rfbClientPtr cl) { return static_cast<FakeRfbServer*>(cl->screen->screenData); }

void quiet(const char*, ...) {}

}  // namespace

std::uint32_t FakeRfbServer::expected_rgb(int x, int y, int frame) {
  if (x >= 20 && x < 60 && y >= 20 && y < 60) return 0xFFFFFF;
  auto r = static_cast<std::uint32_t>((x * 255 / 320 + frame * 40) & 0xFF);
  auto g = static_cast<std::uint32_t>((y * 255 / 200) & 0xFF);
  auto b = static_cast<std::uint32_t>(((x + y) & 0x3F) + 64);
  return (r << 16U) | (g << 8U) | b;
}

void FakeRfbServer::fill(std::vector<char>& fb, int w, int h, int frame) const {
  fb.assign(static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * 4, 0);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      auto rgb = expected_rgb(x, y, frame);
      auto* p = reinterpret_cast<unsigned char*>(fb.data()) + (static_cast<std::size_t>(y) * static_cast<std::size_t>(w) + static_cast<std::size_t>(x)) * 4;
      p[0] = static_cast<unsigned char>(rgb >> 16U);  // server format: R at shift 0
      p[1] = static_cast<unsigned char>(rgb >> 8U);
      p[2] = static_cast<unsigned char>(rgb);
    }
  }
}

FakeRfbServer::FakeRfbServer(int w, int h, std::string password, int port)
    : password_(std::move(password)), w_(w), h_(h), port_(port == 0 ? free_port() : port) {
  rfbLog = quiet;
  rfbErr = quiet;
  int argc = 0;
  screen_ = rfbGetScreen(&argc, nullptr, w, h, 8, 3, 4);
  if (!screen_) throw std::runtime_error("rfbGetScreen failed");
  fill(fb_, w, h, 0);
  screen_->frameBuffer = fb_.data();
  screen_->cursor = nullptr;  // no server-drawn cursor: the picture stays exactly known
  screen_->screenData = this;
  screen_->port = port_;
  screen_->ipv6port = 0;
  screen_->listen6Interface = nullptr;
  screen_->listenInterface = htonl(INADDR_LOOPBACK);
  screen_->alwaysShared = TRUE;
  screen_->desktopName = "labdesk-fake";
  passwords_[0] = password_.data();
  screen_->authPasswdData = static_cast<void*>(passwords_);
  screen_->passwordCheck = check_password;
  screen_->kbdAddEvent = on_key;
  screen_->setXCutText = on_cut;
  screen_->newClientHook = on_client;
  rfbInitServer(screen_);
  if (screen_->listenSock < 0) throw std::runtime_error("fake RFB server cannot listen on port " + std::to_string(port_));
  rfbRunEventLoop(screen_, 20000, TRUE);
}

FakeRfbServer::~FakeRfbServer() {
  // libvncserver's shutdown races a client thread that is still connected or still cleaning up
  // (both free the same client: a crash now and then). So no client may be left when it runs:
  // wait for viewers that hung up, hang up on the rest the way a viewer would (their own thread
  // then sees end-of-file and cleans up on its usual path), and wait again.
  wait_for_no_clients();
  if (clients_.load() > 0) {
    rfbClientIteratorPtr it = rfbGetClientIterator(screen_);
    for (rfbClientPtr cl = rfbClientIteratorNext(it); cl != nullptr; cl = rfbClientIteratorNext(it)) {
      if (cl->sock != RFB_INVALID_SOCKET) ::shutdown(cl->sock, SHUT_RDWR);
    }
    rfbReleaseClientIterator(it);
    wait_for_no_clients();
  }
  // The gone hook runs just before the client thread frees its client and returns.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  rfbShutdownServer(screen_, TRUE);
  rfbScreenCleanup(screen_);
}

void FakeRfbServer::wait_for_no_clients() const {
  for (int i = 0; i < 200 && clients_.load() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

void FakeRfbServer::paint(int x, int y, int w, int h, int frame) {
  std::vector<char> full;
  fill(full, w_, h_, frame);
  for (int row = y; row < y + h; ++row) {
    auto off = (static_cast<std::size_t>(row) * static_cast<std::size_t>(w_) + static_cast<std::size_t>(x)) * 4;
    std::memcpy(fb_.data() + off, full.data() + off, static_cast<std::size_t>(w) * 4);
  }
  rfbMarkRectAsModified(screen_, x, y, x + w, y + h);
}

void FakeRfbServer::resize(int w, int h) {
  std::vector<char> fresh;
  fill(fresh, w, h, 0);
  // libvncserver keeps using the old buffer until rfbNewFramebuffer returns.
  auto old = std::move(fb_);
  fb_ = std::move(fresh);
  w_ = w;
  h_ = h;
  rfbNewFramebuffer(screen_, fb_.data(), w, h, 8, 3, 4);
}

void FakeRfbServer::send_clipboard(const std::string& latin1) {
  std::string copy = latin1;
  rfbSendServerCutText(screen_, copy.data(), static_cast<int>(copy.size()));
}

std::optional<FakeRfbServer::ResizeEncodings> FakeRfbServer::resize_encodings() const {
  std::optional<ResizeEncodings> r;
  rfbClientIteratorPtr it = rfbGetClientIterator(screen_);
  if (rfbClientPtr cl = rfbClientIteratorNext(it))
    r = ResizeEncodings{cl->useNewFBSize != FALSE, cl->useExtDesktopSize != FALSE};
  rfbReleaseClientIterator(it);
  return r;
}

std::vector<std::pair<std::uint32_t, bool>> FakeRfbServer::keys() const {
  std::lock_guard lock(mu_);
  return keys_;
}

std::string FakeRfbServer::clipboard() const {
  std::lock_guard lock(mu_);
  return clipboard_;
}

void FakeRfbServer::on_key(rfbBool down, rfbKeySym key, rfbClientPtr cl) {
  auto* s = self(cl);
  std::lock_guard lock(s->mu_);
  s->keys_.emplace_back(key, down != 0);
}

void FakeRfbServer::on_cut(char* str, int len, rfbClientPtr cl) {
  auto* s = self(cl);
  std::lock_guard lock(s->mu_);
  s->clipboard_.assign(str, static_cast<std::size_t>(len));
}

enum rfbNewClientAction FakeRfbServer::on_client(rfbClientPtr cl) {
  ++self(cl)->clients_;
  cl->clientGoneHook = on_gone;
  return RFB_CLIENT_ACCEPT;
}

void FakeRfbServer::on_gone(rfbClientPtr cl) { --self(cl)->clients_; }

rfbBool FakeRfbServer::check_password(rfbClientPtr cl, const char* response, int len) {
  ++self(cl)->password_answers_;
  return rfbCheckPasswordByList(cl, response, len);
}

}  // namespace labdesk::fakes
