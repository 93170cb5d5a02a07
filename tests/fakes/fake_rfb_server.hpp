// A real RFB server (libvncserver) with a known picture and a VNC password, for tests of the
// viewer's RFB layer without a VM. Runs its event loop on a background thread.
#pragma once

#include <rfb/rfb.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace labdesk::fakes {

class FakeRfbServer {
 public:
  // port 0: pick a free loopback port.
  FakeRfbServer(int w, int h, std::string password, int port = 0);
  ~FakeRfbServer();
  FakeRfbServer(const FakeRfbServer&) = delete;
  FakeRfbServer& operator=(const FakeRfbServer&) = delete;

  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] int width() const { return w_; }
  [[nodiscard]] int height() const { return h_; }
  // The known picture: a colour gradient with a white square at (20,20) 40×40.
  static std::uint32_t expected_rgb(int x, int y, int frame = 0);
  // Repaints rectangle (x,y,w,h) with frame `frame` of the picture and announces it.
  void paint(int x, int y, int w, int h, int frame);
  void resize(int w, int h);
  void send_clipboard(const std::string& latin1);

  [[nodiscard]] std::vector<std::pair<std::uint32_t, bool>> keys() const;
  [[nodiscard]] std::string clipboard() const;
  [[nodiscard]] int clients() const { return clients_.load(); }
  // VNC password answers received (right or wrong): a viewer that must not send one sends none.
  [[nodiscard]] int password_answers() const { return password_answers_.load(); }
  // The size-change encodings the connected viewer asked for last (its latest SetEncodings).
  struct ResizeEncodings {
    bool desktop_size = false, ext_desktop_size = false;
  };
  [[nodiscard]] std::optional<ResizeEncodings> resize_encodings() const;

 private:
  static void on_key(rfbBool down, rfbKeySym key, rfbClientPtr cl);
  static void on_cut(char* str, int len, rfbClientPtr cl);
  static enum rfbNewClientAction on_client(rfbClientPtr cl);
  static void on_gone(rfbClientPtr cl);
  static rfbBool check_password(rfbClientPtr cl, const char* response, int len);
  void wait_for_no_clients() const;
  void fill(std::vector<char>& fb, int w, int h, int frame) const;

  rfbScreenInfoPtr screen_ = nullptr;
  std::vector<char> fb_;
  std::string password_;
  char* passwords_[2] = {nullptr, nullptr};
  int w_, h_, port_;
  mutable std::mutex mu_;
  std::vector<std::pair<std::uint32_t, bool>> keys_;
  std::string clipboard_;
  std::atomic<int> clients_{0};
  std::atomic<int> password_answers_{0};
};

}  // namespace labdesk::fakes
