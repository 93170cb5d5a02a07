#include "ui.hpp"

namespace labdesk::viewer {

Result<std::unique_ptr<Ui>> Ui::open(const Sdl& sdl, int w, int h, const std::string& renderer) {
  // Software by default: lab PCs often have no usable GPU, and at 1:1 it is the cheapest path.
  // Without the hint SDL builds an OpenGL "framebuffer" under it (~250 ms start-up, more CPU).
  std::string driver = renderer.empty() ? "software" : renderer;
  sdl.SDL_SetHint(SDL_HINT_RENDER_DRIVER, driver.c_str());
  if (driver == "software") sdl.SDL_SetHint(SDL_HINT_FRAMEBUFFER_ACCELERATION, "0");
  sdl.SDL_SetHint(SDL_HINT_VIDEO_MINIMIZE_ON_FOCUS_LOSS, "0");
  sdl.SDL_SetHint(SDL_HINT_GRAB_KEYBOARD, "1");  // Alt+Tab etc. go to the desktop, not the kiosk WM
  if (sdl.SDL_InitSubSystem(SDL_INIT_VIDEO) != 0)
    return fail("no_display", std::string("cannot open the display: ") + sdl.SDL_GetError(), 500);
  if (sdl.TTF_Init() != 0) return fail("no_font", std::string("SDL_ttf: ") + sdl.SDL_GetError(), 500);
  auto ui = std::unique_ptr<Ui>(new Ui(sdl));
  Uint32 flags = SDL_WINDOW_SHOWN;
  int x = SDL_WINDOWPOS_UNDEFINED, y = SDL_WINDOWPOS_UNDEFINED;
  if (w == 0 || h == 0) {
    // Full screen as a borderless window covering the display: a lab PC runs no window
    // manager, and SDL's fullscreen request waits for one (hundreds of ms at start-up).
    SDL_Rect b{0, 0, 1024, 768};
    sdl.SDL_GetDisplayBounds(0, &b);
    flags |= SDL_WINDOW_BORDERLESS;
    x = b.x;
    y = b.y;
    w = b.w;
    h = b.h;
  } else {
    flags |= SDL_WINDOW_RESIZABLE;
  }
  ui->window_ = sdl.SDL_CreateWindow("labdesk", x, y, w, h, flags);
  if (!ui->window_) return fail("no_window", std::string("cannot create the window: ") + sdl.SDL_GetError(), 500);
  ui->renderer_ = sdl.SDL_CreateRenderer(ui->window_, -1, 0);
  if (!ui->renderer_)
    return fail("no_renderer", std::string("cannot create a renderer: ") + sdl.SDL_GetError(), 500);
  sdl.SDL_SetHint(SDL_HINT_RENDER_SCALE_QUALITY, "linear");
  ui->font_ = sdl.TTF_OpenFont(LABDESK_VIEWER_FONT, 20);
  ui->big_ = sdl.TTF_OpenFont(LABDESK_VIEWER_FONT, 32);
  if (!ui->font_ || !ui->big_)
    return fail("no_font", std::string("cannot open font '" LABDESK_VIEWER_FONT "': ") + sdl.SDL_GetError(), 500);
  return ui;
}

Ui::~Ui() {
  if (texture_) sdl_->SDL_DestroyTexture(texture_);
  if (spare_) sdl_->SDL_DestroyTexture(spare_);
  if (font_) sdl_->TTF_CloseFont(font_);
  if (big_) sdl_->TTF_CloseFont(big_);
  if (renderer_) sdl_->SDL_DestroyRenderer(renderer_);
  if (window_) sdl_->SDL_DestroyWindow(window_);
  sdl_->TTF_Quit();
  sdl_->SDL_QuitSubSystem(SDL_INIT_VIDEO);
}

void Ui::text(TTF_Font* font, const std::string& s, int x, int y, SDL_Color c, bool centre) {
  if (s.empty()) return;
  SDL_Surface* surf = sdl_->TTF_RenderUTF8_Blended(font, s.c_str(), c);
  if (!surf) return;
  SDL_Texture* t = sdl_->SDL_CreateTextureFromSurface(renderer_, surf);
  SDL_Rect dst{centre ? x - surf->w / 2 : x, y, surf->w, surf->h};
  sdl_->SDL_RenderCopy(renderer_, t, nullptr, &dst);
  sdl_->SDL_DestroyTexture(t);
  sdl_->SDL_FreeSurface(surf);
}

void Ui::draw_login(const LoginForm& f) {
  int w = 0, h = 0;
  sdl_->SDL_GetRendererOutputSize(renderer_, &w, &h);
  sdl_->SDL_SetRenderDrawColor(renderer_, 24, 38, 58, 255);
  sdl_->SDL_RenderClear(renderer_);
  const SDL_Color white{235, 240, 245, 255}, grey{150, 160, 175, 255}, warn{255, 196, 120, 255};
  int cx = w / 2, top = h / 2 - 150;
  text(big_, "Lab desktop", cx, top, white, true);
  const char* labels[2] = {"User name", "Password"};
  for (int i = 0; i < 2; ++i) {
    int y = top + 70 + i * 80;
    text(font_, labels[i], cx - 180, y, grey);
    SDL_Rect box{cx - 180, y + 28, 360, 36};
    sdl_->SDL_SetRenderDrawColor(renderer_, 255, 255, 255, 255);
    sdl_->SDL_RenderFillRect(renderer_, &box);
    if (f.focus == i) {
      sdl_->SDL_SetRenderDrawColor(renderer_, 80, 150, 255, 255);
      SDL_Rect ring{box.x - 2, box.y - 2, box.w + 4, box.h + 4};
      sdl_->SDL_RenderDrawRect(renderer_, &ring);
    }
    std::string shown = i == 0 ? f.user : std::string(f.password.size(), '*');
    if (f.focus == i && !f.busy) shown += "|";
    text(font_, shown, box.x + 8, box.y + 5, SDL_Color{20, 20, 20, 255});
  }
  int y = top + 250;
  if (f.busy) text(font_, "Signing in...", cx, y, white, true);
  else text(font_, "Enter: sign in    Tab: next field", cx, y, grey, true);
  text(font_, f.message, cx, y + 40, warn, true);
  sdl_->SDL_RenderPresent(renderer_);
}

void Ui::set_desktop_size(int w, int h) {
  if (texture_ && w == desk_w_ && h == desk_h_) return;
  if (texture_) sdl_->SDL_DestroyTexture(texture_);
  if (spare_ && spare_w_ == w && spare_h_ == h) {
    texture_ = spare_;
    spare_ = nullptr;
  } else {
    texture_ = sdl_->SDL_CreateTexture(renderer_, SDL_PIXELFORMAT_RGB888, SDL_TEXTUREACCESS_STREAMING, w, h);
  }
  desk_w_ = w;
  desk_h_ = h;
}

void Ui::upload(const std::vector<Rect>& rects, const std::uint8_t* pixels, int stride) {
  if (!texture_) return;
  for (const auto& r : rects) {
    SDL_Rect sr{r.x, r.y, r.w, r.h};
    sdl_->SDL_UpdateTexture(texture_, &sr, pixels + static_cast<std::ptrdiff_t>(r.y) * stride + r.x * 4, stride);
    uploaded_ += static_cast<std::uint64_t>(r.area());
  }
}

void Ui::warm_up(int w, int h) {
  if (!spare_ && !texture_ && w > 0 && h > 0) {
    spare_ = sdl_->SDL_CreateTexture(renderer_, SDL_PIXELFORMAT_RGB888, SDL_TEXTUREACCESS_STREAMING, w, h);
    spare_w_ = w;
    spare_h_ = h;
  }
  sdl_->SDL_SetRenderDrawColor(renderer_, 0, 0, 0, 255);
  sdl_->SDL_RenderClear(renderer_);
  sdl_->SDL_RenderPresent(renderer_);
}

Rect Ui::view() const {
  int w = 0, h = 0;
  sdl_->SDL_GetRendererOutputSize(renderer_, &w, &h);
  return fit(desk_w_, desk_h_, w, h);
}

int Ui::output_w() const {
  int w = 0, h = 0;
  sdl_->SDL_GetRendererOutputSize(renderer_, &w, &h);
  return w;
}

int Ui::output_h() const {
  int w = 0, h = 0;
  sdl_->SDL_GetRendererOutputSize(renderer_, &w, &h);
  return h;
}

Point Ui::mouse() const {
  int gx = 0, gy = 0, wx = 0, wy = 0;
  sdl_->SDL_GetGlobalMouseState(&gx, &gy);
  sdl_->SDL_GetWindowPosition(window_, &wx, &wy);
  return Point{gx - wx, gy - wy};
}

void Ui::present(const std::string& overlay) {
  sdl_->SDL_SetRenderDrawColor(renderer_, 0, 0, 0, 255);
  sdl_->SDL_RenderClear(renderer_);
  if (texture_) {
    Rect v = view();
    SDL_Rect dst{v.x, v.y, v.w, v.h};
    sdl_->SDL_RenderCopy(renderer_, texture_, nullptr, &dst);
  }
  if (!overlay.empty()) {
    int w = 0, h = 0;
    sdl_->SDL_GetRendererOutputSize(renderer_, &w, &h);
    sdl_->SDL_SetRenderDrawBlendMode(renderer_, SDL_BLENDMODE_BLEND);
    sdl_->SDL_SetRenderDrawColor(renderer_, 0, 0, 0, 150);
    SDL_Rect band{0, h / 2 - 40, w, 80};
    sdl_->SDL_RenderFillRect(renderer_, &band);
    text(big_, overlay, w / 2, h / 2 - 20, SDL_Color{255, 255, 255, 255}, true);
  }
  sdl_->SDL_RenderPresent(renderer_);
}

}  // namespace labdesk::viewer
