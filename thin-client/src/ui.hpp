// The SDL2 + SDL2_ttf front end: the login screen, the scaled desktop, the reconnect overlay.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "labdesk/common/error.hpp"
#include "labdesk/viewer/geometry.hpp"
#include "labdesk/viewer/login_form.hpp"
#include "sdl_api.hpp"

namespace labdesk::viewer {

class Ui {
 public:
  // w,h = 0: full screen (desktop resolution).
  static Result<std::unique_ptr<Ui>> open(const Sdl& sdl, int w, int h, const std::string& renderer);
  ~Ui();
  Ui(const Ui&) = delete;
  Ui& operator=(const Ui&) = delete;

  void draw_login(const LoginForm& f);
  // A new desktop size: a new texture (the old picture is dropped only now).
  void set_desktop_size(int w, int h);
  // While waiting for the first desktop: a w×h texture made in advance and one black present, so
  // the first desktop frame does not pay for first-time allocations (~6 ms) on its way out.
  void warm_up(int w, int h);
  void upload(const std::vector<Rect>& rects, const std::uint8_t* pixels, int stride);
  // The desktop, scaled; `overlay` non-empty dims it and shows the text (keeps the last frame).
  void present(const std::string& overlay);
  [[nodiscard]] bool has_desktop() const { return texture_ != nullptr; }
  [[nodiscard]] Rect view() const;
  [[nodiscard]] int output_w() const;
  [[nodiscard]] int output_h() const;
  // The pointer in window coordinates (outside the window: relative to it, maybe negative).
  [[nodiscard]] Point mouse() const;
  [[nodiscard]] int desktop_w() const { return desk_w_; }
  [[nodiscard]] int desktop_h() const { return desk_h_; }
  [[nodiscard]] std::uint64_t uploaded_pixels() const { return uploaded_; }

 private:
  explicit Ui(const Sdl& sdl) : sdl_(&sdl) {}
  void text(TTF_Font* font, const std::string& s, int x, int y, SDL_Color c, bool centre = false);
  const Sdl* sdl_;
  SDL_Window* window_ = nullptr;
  SDL_Renderer* renderer_ = nullptr;
  SDL_Texture* texture_ = nullptr;
  SDL_Texture* spare_ = nullptr;  // from warm_up, taken by set_desktop_size if the size fits
  int spare_w_ = 0, spare_h_ = 0;
  TTF_Font* font_ = nullptr;
  TTF_Font* big_ = nullptr;
  int desk_w_ = 0, desk_h_ = 0;
  std::uint64_t uploaded_ = 0;
};

}  // namespace labdesk::viewer
