#include "app.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

#include "desktop_input.hpp"
#include "desktop_link.hpp"
#include "event_poller.hpp"
#include "labdesk/common/log.hpp"
#include "labdesk/viewer/clipboard.hpp"
#include "labdesk/viewer/viewer_stats.hpp"
#include "login_screen.hpp"
#include "options.hpp"
#include "screenshot.hpp"
#include "signals.hpp"
#include "ui.hpp"

namespace labdesk::viewer {
namespace {

// Before the first desktop, the window stays black this long: a "Connecting…" flash is
// unreadable, and drawing text when the picture arrives would delay it by a few ms.
constexpr Millis kQuietStart{500};
constexpr Millis kKeyGap{15};  // between held key events sent to a desktop

Options with_client_id(Options opt) {
  if (opt.client_id.empty()) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    opt.client_id = host;
  }
  return opt;
}

std::shared_ptr<SessionApi> session_api(const Options& opt) {
  if (opt.server.empty()) return nullptr;
  return std::shared_ptr<SessionApi>(make_http_session_api(opt.server, opt.ca_file));
}

class App final : public LinkListener {
 public:
  App(Options opt, std::shared_ptr<spdlog::logger> log)
      : opt_(with_client_id(std::move(opt))), log_(std::move(log)), api_(session_api(opt_)) {
    reset_machine();
  }
  ~App() override;
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  int run();

  // LinkListener
  void connected(RfbConnection& conn) override { input_.sync_pointer(conn, ui_.get()); }
  void picture_ready() override { promote_first_frame(); }
  void picture_changed(const std::vector<Rect>& rects) override;
  void desktop_resized(int w, int h) override { ui_->set_desktop_size(w, h); }
  void clipboard_received(const std::string& latin1) override;

 private:
  void reset_machine() {
    machine_.emplace(clock_, api_ != nullptr, BackoffPolicy{}, static_cast<std::uint32_t>(getpid()));
    moved_at_.reset();
  }
  bool start();
  void start_early(std::thread& early, std::exception_ptr& error, int display_ready);
  Result<std::unique_ptr<Ui>> open_display();
  Result<void> open_sdl();
  void display_opened(std::unique_ptr<Ui> ui);
  void loop();
  void perform(Command c);
  void show_login();
  void session_over();
  Command do_connect();
  Command do_credential();
  void sign_out();
  void handle(const SDL_Event& e);
  void handle_rfb(const SDL_Event& e);
  void handle_api(const SDL_Event& e);
  void handle_signal(const SDL_Event& e);
  void handle_clipboard_update();
  void handle_login_key(const SDL_Event& e);
  void handle_desktop_input(const SDL_Event& e);
  void promote_first_frame();
  void ack_move();
  void release_held_keys();
  void send_held_keys();
  void pump_until_display(int display_ready);
  bool pump_connection();
  void draw();
  [[nodiscard]] bool quiet_start() const {
    return !ui_->has_desktop() && machine_->phase() == Phase::connecting &&
           clock_.now() - link_.connect_started() < kQuietStart;
  }
  [[nodiscard]] bool login_screen() const {
    auto p = machine_->phase();
    return p == Phase::login || p == Phase::logging_in;
  }
  std::string overlay() const;
  int wait_ms() const;
  void write_stats();

  Options opt_;
  std::shared_ptr<spdlog::logger> log_;
  // Opened by the UI thread while the connect helper may already work (open_display): until the
  // join after it, only the UI thread touches sdl_ and ev_; the helpers push through sink_.
  std::shared_ptr<const Sdl> sdl_;
  Events ev_;
  std::shared_ptr<EventSink> sink_ = std::make_shared<EventSink>();
  std::optional<SignalThread> signals_;
  SteadyClock clock_;
  std::shared_ptr<SessionApi> api_;
  std::optional<SessionMachine> machine_;
  std::unique_ptr<Ui> ui_;
  std::unique_ptr<EventPoller> poller_;
  ViewerStats stats_;
  DesktopLink link_{opt_.rfb, clock_, sink_, log_, stats_, *this};
  DesktopInput input_;
  LoginScreen login_{api_, sink_, log_, opt_.client_id};
  Screenshot shot_{opt_.screenshot, clock_, log_};
  Millis app_started_{};
  std::optional<Millis> moved_at_;  // a 'moved' event arrived: for the ack's blackout figure
  Millis next_held_key_{};          // when the next held key may be sent
  bool redraw_ = true, quit_ = false, first_present_logged_ = false, warmed_ = false;
  int exit_code_ = 0;
  std::string clipboard_sent_;
  bool clipboard_waiting_ = false;
};

App::~App() {
  poller_.reset();
  link_.drop();
  ui_.reset();
  signals_.reset();
  if (sdl_) sdl_->SDL_Quit();
}

int App::run() {
  app_started_ = clock_.now();
  if (!start()) return 1;
  loop();
  link_.drop();
  poller_.reset();
  write_stats();
  return exit_code_;
}

// Log in and connect while the display opens when the flags allow: the handshake, the server's
// first frame and its decoding happen while SDL loads and starts (~8 ms of loading its
// libraries, then 20-40 ms, most of it Xlib's Compose table). Until the join only the helper
// touches the session; ui_ stays empty, so it draws nothing; the eventfd tells it that the
// display is ready.
bool App::start() {
  std::thread early;
  std::exception_ptr early_error;
  int display_ready = eventfd(0, EFD_CLOEXEC);
  if (opt_.vnc || !opt_.user.empty()) start_early(early, early_error, display_ready);
  auto ui = open_display();
  std::uint64_t one = 1;
  if (display_ready >= 0 && write(display_ready, &one, sizeof one) < 0)
    log_->warn("cannot wake the connect helper: '{}'", std::strerror(errno));
  if (early.joinable()) early.join();
  if (display_ready >= 0) close(display_ready);
  if (early_error) std::rethrow_exception(early_error);
  if (!ui) {
    log_->error("{}", ui.error().message);
    return false;
  }
  display_opened(std::move(*ui));
  return true;
}

void App::start_early(std::thread& early, std::exception_ptr& error, int display_ready) {
  if (!opt_.vnc) login_.form().user = opt_.user;
  early = std::thread([this, &error, display_ready] {
    try {
      perform(opt_.vnc ? machine_->direct(*opt_.vnc) : machine_->submit(opt_.user, opt_.password));
      pump_until_display(display_ready);
    } catch (...) {
      error = std::current_exception();
    }
  });
}

// SDL is loaded, its events registered and the display opened on the UI thread, while the
// connect helper may already be at work.
Result<std::unique_ptr<Ui>> App::open_display() {
  auto opened = open_sdl();
  sink_->opened(opened ? sdl_ : nullptr, ev_);
  if (!opened) return std::unexpected(opened.error());
  signals_.emplace([sink = sink_](int sig) { sink->push(&Events::signal, sig, nullptr); });
  return Ui::open(*sdl_, opt_.window_w, opt_.window_h, opt_.renderer);
}

Result<void> App::open_sdl() {
  auto sdl = Sdl::open();
  if (!sdl) return std::unexpected(sdl.error());
  (*sdl)->SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");
  if ((*sdl)->SDL_Init(SDL_INIT_EVENTS) != 0) return fail("no_sdl", std::string("SDL: ") + (*sdl)->SDL_GetError(), 500);
  Uint32 base = (*sdl)->SDL_RegisterEvents(3);
  ev_ = Events{base, base + 1, base + 2};
  sdl_ = std::move(*sdl);
  log_->debug("SDL loaded {} ms after start", (clock_.now() - app_started_).count());
  return {};
}

// The UI thread takes over from the connect helper: what it did meanwhile goes on screen.
void App::display_opened(std::unique_ptr<Ui> ui) {
  ui_ = std::move(ui);
  link_.display_opened();
  log_->debug("display ready {} ms after start", (clock_.now() - app_started_).count());
  if (auto* conn = link_.conn()) input_.sync_pointer(*conn, ui_.get());
  if (link_.picture_waiting()) promote_first_frame();
  if (clipboard_waiting_) sdl_->SDL_SetClipboardText(clipboard_sent_.c_str());
  sdl_->SDL_StartTextInput();
}

void App::loop() {
  while (!quit_) {
    if (redraw_) draw();
    SDL_Event e;
    if (sdl_->SDL_WaitEventTimeout(&e, wait_ms()) != 0) {
      handle(e);
      while (!quit_ && sdl_->SDL_PollEvent(&e) != 0) handle(e);
    }
    if (opt_.exit_after > 0 &&
        clock_.now() - app_started_ >= Millis{static_cast<long>(opt_.exit_after * 1000)}) {
      log_->info("exit after {} s as asked", opt_.exit_after);
      break;
    }
    perform(machine_->tick());
    send_held_keys();
    // Read what has arrived before giving up on a non-black picture: the grace must not win
    // against data waiting in the socket (a slow start-up, e.g. under ASan, made it so).
    if (link_.grace_over() && pump_connection() && link_.fresh()) promote_first_frame();
    shot_.first_if_ready(link_.on_screen());
    if (machine_->phase() == Phase::reconnecting) redraw_ = true;  // the overlay counts seconds
  }
}

int App::wait_ms() const {
  long ms = 60000;
  auto now = clock_.now();
  auto until = [&](Millis t) { ms = std::min(ms, std::max(0L, (t - now).count())); };
  if (auto d = machine_->next_deadline()) until(*d);
  if (auto d = link_.gate_deadline()) until(*d);
  if (redraw_ && ui_ && quiet_start()) until(link_.connect_started() + kQuietStart);
  if (auto d = shot_.deadline(); d && link_.on_screen()) until(*d);
  if (machine_->phase() == Phase::reconnecting) ms = std::min(ms, 1000L);
  if (input_.held() > 0 && !input_.holding_keys() && link_.on_screen()) until(next_held_key_);
  if (opt_.exit_after > 0) until(app_started_ + Millis{static_cast<long>(opt_.exit_after * 1000)});
  return static_cast<int>(ms);
}

void App::perform(Command c) {
  while (c != Command::none && !quit_) {
    switch (c) {
      case Command::none: break;
      case Command::login:
        c = login_.start(*machine_, ui_ != nullptr, poller_);
        redraw_ = true;
        break;
      case Command::connect: c = do_connect(); break;
      case Command::fetch_credential: c = do_credential(); break;
      case Command::show_login:
        show_login();
        c = Command::none;
        break;
      case Command::quit:
        session_over();
        c = Command::none;
        break;
    }
  }
}

void App::show_login() {
  link_.drop();
  input_.drop_held();  // typed for a session that is over
  poller_.reset();
  moved_at_.reset();  // a move of the session just left must not be acked into the next
  auto& form = login_.form();
  form.busy = false;
  form.password.clear();
  form.message = machine_->message();
  log_->warn("login screen: {}", form.message);
  redraw_ = true;
}

void App::session_over() {
  log_->info("session ended: {}", machine_->message());
  link_.drop();
  input_.drop_held();
  poller_.reset();
  if (!opt_.user.empty() || opt_.vnc) {  // driven by flags (tests): the run is over
    quit_ = true;
  } else {  // a lab PC: back to the login screen for the next student
    std::string why = machine_->message();
    login_.overtake();
    reset_machine();
    login_.restart(why);
  }
  redraw_ = true;
}

Command App::do_credential() {
  auto r = api_->credential(machine_->session(), machine_->token());
  if (!r) {
    log_->warn("fresh credential: {} ({})", r.error().message, r.error().code);
    return machine_->credential_failed(r.error());
  }
  return machine_->credential_ok(*r);
}

Command App::do_connect() {
  if (link_.open(machine_->target(), app_started_)) return Command::none;
  redraw_ = true;
  return machine_->connect_failed();
}

// The first connection is made while SDL starts (~20-40 ms, most of it Xlib's Compose table):
// reading and decoding the first picture meanwhile on this helper thread takes that work off the
// path to the first frame. Stops when the display is ready (the UI thread takes over), when the
// picture is complete, or when the connection is gone.
void App::pump_until_display(int display_ready) {
  while (link_.awaiting_picture() && display_ready >= 0) {
    pollfd fds[2] = {{link_.conn()->fd(), POLLIN, 0}, {display_ready, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0 || (fds[1].revents & POLLIN) != 0) return;
    if (!pump_connection()) return;
  }
}

// The new connection's picture is complete: only now does it replace the old one on screen.
void App::promote_first_frame() {
  long ms = link_.show();
  auto lost = machine_->lost_since();
  std::optional<long> since_lost;
  if (lost) since_lost = (clock_.now() - *lost).count();
  stats_.first_frame(ms, since_lost);
  const auto& conn = *link_.conn();
  log_->info("first full frame {}x{} {} ms after connecting{}", conn.width(), conn.height(), ms,
             since_lost ? fmt::format(", {} ms after the link was lost", *since_lost) : "");
  ui_->set_desktop_size(conn.width(), conn.height());
  ui_->upload({Rect{0, 0, conn.width(), conn.height()}}, conn.pixels(), conn.stride());
  ++stats_.frames;
  perform(machine_->first_frame());
  redraw_ = true;
  input_.hold_keys(false);
  if (input_.held() > 0) log_->info("sending {} key event(s) typed while no desktop was on screen", input_.held());
  ack_move();
  shot_.first_frame(link_.on_screen());
}

// A live migration that did not happen: the keys held for it go to the desktop on screen.
void App::release_held_keys() {
  input_.hold_keys(false);
  if (input_.held() > 0) log_->info("sending {} key event(s) held for a move that did not happen", input_.held());
}

// Held keys go out one every kKeyGap while a desktop is on screen, as fast as a quick typist.
void App::send_held_keys() {
  auto* conn = link_.conn();
  if (input_.held() == 0 || input_.holding_keys() || !conn || link_.fresh()) return;
  if (clock_.now() < next_held_key_) return;
  next_held_key_ = clock_.now() + kKeyGap;
  if (input_.replay_one(*conn, *ui_, *sdl_, api_ != nullptr) == DesktopInput::Outcome::sign_out) sign_out();
}

// Tells the broker how long the picture stayed frozen while following a move, for its metrics.
void App::ack_move() {
  if (!moved_at_ || !api_) return;
  long frozen = (clock_.now() - *moved_at_).count();
  moved_at_.reset();
  log_->info("followed the move: picture frozen {} ms, never black", frozen);
  if (auto a = api_->ack(machine_->session(), machine_->token(), frozen); !a)
    log_->warn("ack of the move: {}", a.error().message);
}

// Handles what the server has sent; false when the connection is gone (then reconnecting).
bool App::pump_connection() {
  auto r = link_.pump();
  if (r != DesktopLink::Pump::lost) return r == DesktopLink::Pump::ok;
  input_.forget_keys();
  link_.drop();
  perform(machine_->connection_lost());
  redraw_ = true;
  return false;
}

void App::picture_changed(const std::vector<Rect>& rects) {
  const auto& conn = *link_.conn();
  ui_->upload(rects, conn.pixels(), conn.stride());
  ++stats_.frames;
  redraw_ = true;
  shot_.first_if_ready(link_.on_screen());
}

void App::clipboard_received(const std::string& latin1) {
  auto utf8 = latin1_to_utf8(latin1);
  clipboard_sent_ = utf8;  // do not echo it back
  if (ui_) sdl_->SDL_SetClipboardText(utf8.c_str());
  else clipboard_waiting_ = true;  // the connect helper, while SDL opens: set once it is open
}

std::string App::overlay() const {
  switch (machine_->phase()) {
    case Phase::reconnecting: {
      auto lost = machine_->lost_since();
      long s = lost ? (clock_.now() - *lost).count() / 1000 : 0;
      const std::string& why = machine_->notice();
      return (why.empty() ? std::string("Reconnecting...") : why) + " (" + std::to_string(s) + " s)";
    }
    case Phase::connecting:
      return ui_->has_desktop() ? "" : "Connecting to your desktop...";
    default: return "";
  }
}

void App::draw() {
  if (!ui_) return;  // not open yet: drawn once it is
  if (!(login_screen() && !opt_.vnc) && quiet_start()) {  // redraw_ stays set: drawn at its end
    // Idle until QEMU's tick: warm the drawing path up, unless the picture is already waiting.
    SDL_Event e;
    if (!warmed_ && sdl_->SDL_PeepEvents(&e, 1, SDL_PEEKEVENT, ev_.rfb, ev_.rfb) == 0) {
      warmed_ = true;
      auto* conn = link_.conn();
      ui_->warm_up(conn ? conn->width() : 0, conn ? conn->height() : 0);
    }
    return;
  }
  redraw_ = false;
  if (login_screen() && !opt_.vnc) ui_->draw_login(login_.form());
  else ui_->present(overlay());
  if (!first_present_logged_ && ui_->has_desktop()) {
    first_present_logged_ = true;
    log_->debug("first desktop frame presented {} ms after start", (clock_.now() - app_started_).count());
  }
}

void App::handle(const SDL_Event& e) {
  if (e.type == ev_.rfb) return handle_rfb(e);
  if (e.type == ev_.api) return handle_api(e);
  if (e.type == ev_.signal) return handle_signal(e);
  switch (e.type) {
    case SDL_QUIT: quit_ = true; return;
    case SDL_WINDOWEVENT:
      if (e.window.event == SDL_WINDOWEVENT_FOCUS_LOST && link_.conn()) input_.release_keys(*link_.conn());
      redraw_ = true;
      return;
    case SDL_CLIPBOARDUPDATE: handle_clipboard_update(); return;
    default: break;
  }
  if (login_screen() && !opt_.vnc) handle_login_key(e);
  else handle_desktop_input(e);
}

void App::handle_rfb(const SDL_Event& e) {
  if (!link_.current(e.user.code)) return;
  if (pump_connection()) link_.rearm();
}

void App::handle_api(const SDL_Event& e) {
  if (e.user.code == kLoginAnswer) {
    if (auto cmd = login_.answered(e, *machine_, poller_)) {
      redraw_ = true;
      perform(*cmd);
    }
    return;
  }
  std::unique_ptr<api::EventBatch> b(static_cast<api::EventBatch*>(e.user.data1));
  for (const auto& ev : b->events) {
    log_->info("session event {} '{}'", ev.seq, ev.type);
    if (ev.type == api::event_type::moving) input_.hold_keys(true);
    if (ev.type == api::event_type::stayed) release_held_keys();
    auto cmd = machine_->event(ev);
    // From the first move the machine follows until a picture is back (a retry in between
    // still counts: the picture stayed frozen). A stop-first handoff takes the old desktop away
    // before the move is announced: the picture froze when its link was lost, not at the event.
    if (ev.type == api::event_type::moved && machine_->phase() == Phase::following && !moved_at_)
      moved_at_ = machine_->lost_since().value_or(clock_.now());
    perform(cmd);
  }
}

void App::handle_signal(const SDL_Event& e) {
  if (e.user.code == SIGUSR1) {
    shot_.take(link_.on_screen());
  } else {
    log_->info("signal {}: quitting", e.user.code);
    quit_ = true;
  }
}

void App::handle_clipboard_update() {
  auto* conn = link_.conn();
  if (!conn || !sdl_->SDL_HasClipboardText()) return;
  char* t = sdl_->SDL_GetClipboardText();
  std::string text = t ? t : "";
  sdl_->SDL_free(t);
  if (text == clipboard_sent_) return;
  clipboard_sent_ = text;
  conn->clipboard(utf8_to_latin1(text));
}

void App::handle_login_key(const SDL_Event& e) {
  if (machine_->phase() != Phase::login) return;
  auto edit = login_.edit(e);
  if (edit == FormEdit::submit) {
    auto& form = login_.form();
    perform(machine_->submit(form.user, form.password));
    form.password.clear();
  }
  if (edit != FormEdit::ignored) redraw_ = true;
}

void App::handle_desktop_input(const SDL_Event& e) {
  auto* conn = link_.conn();
  const bool key = e.type == SDL_KEYDOWN || e.type == SDL_KEYUP;
  // Behind held keys still being sent, in order.
  if (!conn || link_.fresh() || (key && (input_.holding_keys() || input_.held() > 0))) return input_.hold(e);
  if (input_.handle(e, *conn, *ui_, *sdl_, api_ != nullptr) == DesktopInput::Outcome::sign_out) sign_out();
}

// Ctrl+Alt+Shift+Q: the session is logged out (not just left to the broker's grace period) and
// the login screen waits for the next student.
void App::sign_out() {
  (void)api_->logout(machine_->session(), machine_->token());
  log_->info("logged out by the student");
  link_.drop();
  poller_.reset();
  reset_machine();
  login_.restart("You have signed out.");
  redraw_ = true;
}

void App::write_stats() {
  if (opt_.stats.empty()) return;
  auto j = stats_json(stats_, ui_ ? ui_->uploaded_pixels() : 0, machine_->phase(), machine_->session());
  if (opt_.stats == "-") {
    std::cout << j.dump() << std::endl;
  } else {
    std::ofstream(opt_.stats) << j.dump() << '\n';
  }
}

}  // namespace

int run_viewer(int argc, char** argv) {
  Options opt;
  if (auto code = parse_options(argc, argv, opt)) return *code;
  std::shared_ptr<spdlog::logger> log;
  try {
    log = log::make_logger("viewer", log::parse_level(opt.log_level));
  } catch (const Failure& f) {
    std::fprintf(stderr, "labdesk-viewer: %s\n", f.what());
    return 2;
  }
  block_viewer_signals();  // before SDL starts any thread, so only SignalThread ever receives them
  // Without a session bus, SDL's D-Bus start (IME, screensaver) makes libdbus "autolaunch" one:
  // a fork and a dbus-launch per start (a new bus daemon where dbus-x11 is installed), a few ms
  // before anything can connect. A lab PC's kiosk has no session bus, so none is started.
  setenv("DBUS_SESSION_BUS_ADDRESS", "disabled:", 0);
  // Straight to a desktop (--vnc) there is no login form, so nothing is ever composed: keys go to
  // the desktop as keysyms, dead keys included. Xlib would still parse the locale's Compose
  // table when SDL opens its input method (500 KB for UTF-8 locales, read with getc, which
  // locks per character once the connect helper exists): 12 of SDL's 22 ms of start-up CPU.
  // An explicit XCOMPOSEFILE is kept.
  if (opt.vnc) setenv("XCOMPOSEFILE", "/dev/null", 0);
  App app(std::move(opt), log);
  return app.run();
}

}  // namespace labdesk::viewer
