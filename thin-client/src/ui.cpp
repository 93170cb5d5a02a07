#include "ui.hpp"

namespace labdesk::viewer {

Result<std::unique_ptr<Ui>> Ui::open(int w, int h, const std::string& renderer) {
  // Software by default: lab PCs often have no usable GPU, and at 1:1 it is the cheapest path.
  // Without the hint SDL builds an OpenGL "framebuffer" under it (~250 ms start-up, more CPU).
  std::string driver = renderer.empty() ? "software" : renderer;
  SDL_SetHint(SDL_HINT_RENDER_DRIVER, driver.c_str());
  if (driver == "software") SDL_SetHint(SDL_HINT_FRAMEBUFFER_ACCELERATION, "0");
  SDL_SetHint(SDL_HINT_VIDEO_MINIMIZE_ON_FOCUS_LOSS, "0");
  SDL_SetHint(SDL_HINT_GRAB_KEYBOARD, "1");  // Alt+Tab etc. go to the desktop, not the kiosk WM
  if (SDL_InitSubSystem(SDL_INIT_VIDEO) != 0)
    return fail("no_display", std::string("cannot open the display: ") + SDL_GetError(), 500);
  if (TTF_Init() != 0) return fail("no_font", std::string("SDL_ttf: ") + TTF_GetError(), 500);
  auto ui = std::unique_ptr<Ui>(new Ui());
  Uint32 flags = SDL_WINDOW_SHOWN;
  int x = SDL_WINDOWPOS_UNDEFINED, y = SDL_WINDOWPOS_UNDEFINED;
  if (w == 0 || h == 0) {
    // Full screen as a borderless window covering the display: a lab PC runs no window
    // manager, and SDL's fullscreen request waits for one (hundreds of ms at start-up).
    SDL_Rect b{0, 0, 1024, 768};
    SDL_GetDisplayBounds(0, &b);
    flags |= SDL_WINDOW_BORDERLESS;
    x = b.x;
    y = b.y;
    w = b.w;
    h = b.h;
  } else {
    flags |= SDL_WINDOW_RESIZABLE;
  }
  ui->window_ = SDL_CreateWindow("labdesk", x, y, w, h, flags);
  if (!ui->window_) return fail("no_window", std::string("cannot create the window: ") + SDL_GetError(), 500);
  ui->renderer_ = SDL_CreateRenderer(ui->window_, -1, 0);
  if (!ui->renderer_)
    return fail("no_renderer", std::string("cannot create a renderer: ") + SDL_GetError(), 500);
  SDL_SetHint(SDL_HINT_RENDER_SCALE_QUALITY, "linear");
  ui->font_ = TTF_OpenFont(LABDESK_VIEWER_FONT, 20);
  ui->big_ = TTF_OpenFont(LABDESK_VIEWER_FONT, 32);
  if (!ui->font_ || !ui->big_)
    return fail("no_font", std::string("cannot open font '" LABDESK_VIEWER_FONT "': ") + TTF_GetError(), 500);
  return ui;
}

Ui::~Ui() {
  if (texture_) SDL_DestroyTexture(texture_);
  if (spare_) SDL_DestroyTexture(spare_);
  if (font_) TTF_CloseFont(font_);
  if (big_) TTF_CloseFont(big_);
  if (renderer_) SDL_DestroyRenderer(renderer_);
  if (window_) SDL_DestroyWindow(window_);
  TTF_Quit();
  SDL_QuitSubSystem(SDL_INIT_VIDEO);
}

void Ui::text(TTF_Font* font, const std::string& s, int x, int y, SDL_Color c, bool centre) {
  if (s.empty()) return;
  SDL_Surface* surf = TTF_RenderUTF8_Blended(font, s.c_str(), c);
  if (!surf) return;
  SDL_Texture* t = SDL_CreateTextureFromSurface(renderer_, surf);
  SDL_Rect dst{centre ? x - surf->w / 2 : x, y, surf->w, surf->h};
  SDL_RenderCopy(renderer_, t, nullptr, &dst);
  SDL_DestroyTexture(t);
  SDL_FreeSurface(surf);
}

void Ui::draw_login(const LoginForm& f) {
  int w = 0, h = 0;
  SDL_GetRendererOutputSize(renderer_, &w, &h);
  SDL_SetRenderDrawColor(renderer_, 24, 38, 58, 255);
  SDL_RenderClear(renderer_);
  const SDL_Color white{235, 240, 245, 255}, grey{150, 160, 175, 255}, warn{255, 196, 120, 255};
  int cx = w / 2, top = h / 2 - 150;
  text(big_, "Lab desktop", cx, top, white, true);
  const char* labels[2] = {"User name", "Password"};
  for (int i = 0; i < 2; ++i) {
    int y = top + 70 + i * 80;
    text(font_, labels[i], cx - 180, y, grey);
    SDL_Rect box{cx - 180, y + 28, 360, 36};
    SDL_SetRenderDrawColor(renderer_, 255, 255, 255, 255);
    SDL_RenderFillRect(renderer_, &box);
    if (f.focus == i) {
      SDL_SetRenderDrawColor(renderer_, 80, 150, 255, 255);
      SDL_Rect ring{box.x - 2, box.y - 2, box.w + 4, box.h + 4};
      SDL_RenderDrawRect(renderer_, &ring);
    }
    std::string shown = i == 0 ? f.user : std::string(f.password.size(), '*');
    if (f.focus == i && !f.busy) shown += "|";
    text(font_, shown, box.x + 8, box.y + 5, SDL_Color{20, 20, 20, 255});
  }
  int y = top + 250;
  if (f.busy) text(font_, "Signing in...", cx, y, white, true);
  else text(font_, "Enter: sign in    Tab: next field", cx, y, grey, true);
  text(font_, f.message, cx, y + 40, warn, true);
  SDL_RenderPresent(renderer_);
}

void Ui::set_desktop_size(int w, int h) {
  if (texture_ && w == desk_w_ && h == desk_h_) return;
  if (texture_) SDL_DestroyTexture(texture_);
  if (spare_ && spare_w_ == w && spare_h_ == h) {
    texture_ = spare_;
    spare_ = nullptr;
  } else {
    texture_ = SDL_CreateTexture(renderer_, SDL_PIXELFORMAT_RGB888, SDL_TEXTUREACCESS_STREAMING, w, h);
  }
  desk_w_ = w;
  desk_h_ = h;
}

void Ui::upload(const std::vector<Rect>& rects, const std::uint8_t* pixels, int stride) {
  if (!texture_) return;
  for (const auto& r : rects) {
    SDL_Rect sr{r.x, r.y, r.w, r.h};
    SDL_UpdateTexture(texture_, &sr, pixels + static_cast<std::ptrdiff_t>(r.y) * stride + r.x * 4, stride);
    uploaded_ += static_cast<std::uint64_t>(r.area());
  }
}

void Ui::warm_up(int w, int h) {
  if (!spare_ && !texture_ && w > 0 && h > 0) {
    spare_ = SDL_CreateTexture(renderer_, SDL_PIXELFORMAT_RGB888, SDL_TEXTUREACCESS_STREAMING, w, h);
    spare_w_ = w;
    spare_h_ = h;
  }
  SDL_SetRenderDrawColor(renderer_, 0, 0, 0, 255);
  SDL_RenderClear(renderer_);
  SDL_RenderPresent(renderer_);
}

Rect Ui::view() const {
  int w = 0, h = 0;
  SDL_GetRendererOutputSize(renderer_, &w, &h);
  return fit(desk_w_, desk_h_, w, h);
}

int Ui::output_w() const {
  int w = 0, h = 0;
  SDL_GetRendererOutputSize(renderer_, &w, &h);
  return w;
}

int Ui::output_h() const {
  int w = 0, h = 0;
  SDL_GetRendererOutputSize(renderer_, &w, &h);
  return h;
}

Point Ui::mouse() const {
  int gx = 0, gy = 0, wx = 0, wy = 0;
  SDL_GetGlobalMouseState(&gx, &gy);
  SDL_GetWindowPosition(window_, &wx, &wy);
  return Point{gx - wx, gy - wy};
}

void Ui::present(const std::string& overlay) {
  SDL_SetRenderDrawColor(renderer_, 0, 0, 0, 255);
  SDL_RenderClear(renderer_);
  if (texture_) {
    Rect v = view();
    SDL_Rect dst{v.x, v.y, v.w, v.h};
    SDL_RenderCopy(renderer_, texture_, nullptr, &dst);
  }
  if (!overlay.empty()) {
    int w = 0, h = 0;
    SDL_GetRendererOutputSize(renderer_, &w, &h);
    SDL_SetRenderDrawBlendMode(renderer_, SDL_BLENDMODE_BLEND);
    SDL_SetRenderDrawColor(renderer_, 0, 0, 0, 150);
    SDL_Rect band{0, h / 2 - 40, w, 80};
    SDL_RenderFillRect(renderer_, &band);
    text(big_, overlay, w / 2, h / 2 - 20, SDL_Color{255, 255, 255, 255}, true);
  }
  SDL_RenderPresent(renderer_);
}

}  // namespace labdesk::viewer
