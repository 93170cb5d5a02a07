// One RFB connection (libvncclient): handshake, updates into a 32-bit XRGB framebuffer, input
// and clipboard out. No threads: the owner calls pump() when fd() is readable.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "labdesk/common/error.hpp"
#include "labdesk/viewer/geometry.hpp"
#include "labdesk/viewer/session.hpp"

struct _rfbClient;

namespace labdesk::viewer {

class RfbListener {
 public:
  virtual ~RfbListener() = default;
  virtual void on_resize(int w, int h) = 0;       // framebuffer reallocated (desktop size change)
  virtual void on_rect(const Rect& r) = 0;        // pixels of r changed
  virtual void on_update_done() = 0;              // end of one FramebufferUpdate
  virtual void on_clipboard(const std::string& latin1) = 0;
};

struct RfbOptions {
  // Empty: ZRLE first when lossless (its one zlib stream per connection carries ~12 % fewer bytes
  // than lossless Tight for console/GUI text at the same server CPU, measured against QEMU),
  // Tight first when JPEG is on (only Tight carries JPEG).
  std::string encodings;
  int compress_level = 2;  // TigerVNC's default: level 1 costs ~5 % more bytes for no client CPU
  int jpeg_quality = -1;   // -1: lossless (text stays sharp); 0..9 enables JPEG in Tight
  int connect_timeout_s = 3;
  int read_timeout_s = 10;
  int keepalive_s = 2;     // a cut link is noticed within ~keepalive_s + 3 probes
  bool library_log = false;  // libvncclient's own messages (why it ended a connection) on stderr
  // The lab CA (PEM). A target whose endpoint says tls is reached only by VeNCrypt x509 + VNC
  // password, the server's certificate chaining to it and naming the host dialled.
  std::string ca_file;
};

class RfbConnection {
 public:
  static Result<std::unique_ptr<RfbConnection>> open(const Target& target, const RfbOptions& opt,
                                                     RfbListener& listener);
  ~RfbConnection();
  RfbConnection(const RfbConnection&) = delete;
  RfbConnection& operator=(const RfbConnection&) = delete;

  [[nodiscard]] int fd() const;
  // Handles every message the server has sent; an error means the connection is gone.
  Result<void> pump();

  [[nodiscard]] int width() const;
  [[nodiscard]] int height() const;
  [[nodiscard]] int stride() const { return width() * 4; }
  [[nodiscard]] const std::uint8_t* pixels() const;
  [[nodiscard]] std::string desktop_name() const;
  [[nodiscard]] const std::string& encodings() const { return encodings_; }

  void key(std::uint32_t keysym, bool down);
  void pointer(int x, int y, int buttons);
  void clipboard(const std::string& latin1);

 private:
  RfbConnection(_rfbClient* c, RfbListener& l) : client_(c), listener_(l) {}
  friend struct RfbCallbacks;
  _rfbClient* client_;
  RfbListener& listener_;
  std::string password_;
  std::string ca_file_;
  bool tls_ = false;        // the password goes out only inside a checked TLS session
  std::string refused_;     // why the handshake was given up, for the error
  std::string encodings_;      // libvncclient keeps a pointer to it
  bool qemu_key_seen_ = false;  // QEMU's extended-key pseudo-rectangle passed (see got())
};

}  // namespace labdesk::viewer
