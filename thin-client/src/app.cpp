#include "app.hpp"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <iostream>
#include <future>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "event_poller.hpp"
#include "labdesk/common/log.hpp"
#include "labdesk/viewer/first_frame.hpp"
#include "labdesk/viewer/keymap.hpp"
#include "labdesk/viewer/repeat_log.hpp"
#include "options.hpp"
#include "png_writer.hpp"
#include "rfb_connection.hpp"
#include "sdl_api.hpp"
#include "socket_watch.hpp"
#include "ui.hpp"

namespace labdesk::viewer {
namespace {

constexpr Millis kBlackGrace{2000};  // QEMU may first send a stale black surface: wait this long
// --screenshot waits this long after the first full frame for a picture that is not one colour
// (a VM that has not drawn yet shows a blank surface and soon sends more), then takes it anyway.
constexpr Millis kShotWait{3000};
// Before the first desktop, the window stays black this long: a "Connecting…" flash is
// unreadable, and drawing text when the picture arrives would delay it by a few ms.
constexpr Millis kQuietStart{500};

std::string latin1_to_utf8(const std::string& in) {
  std::string out;
  for (char ch : in) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      out += static_cast<char>(0xC0U | (c >> 6U));
      out += static_cast<char>(0x80U | (c & 0x3FU));
    }
  }
  return out;
}

std::string utf8_to_latin1(const std::string& in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    auto c = static_cast<unsigned char>(in[i]);
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if ((c & 0xE0U) == 0xC0U && i + 1 < in.size()) {
      unsigned cp = ((c & 0x1FU) << 6U) | (static_cast<unsigned char>(in[++i]) & 0x3FU);
      out += cp <= 0xFF ? static_cast<char>(cp) : '?';
    } else {
      out += '?';  // RFB's basic clipboard is Latin-1
      while (i + 1 < in.size() && (static_cast<unsigned char>(in[i + 1]) & 0xC0U) == 0x80U) ++i;
    }
  }
  return out;
}

struct Events {
  Uint32 rfb = 0, api = 0, signal = 0;
};
// user.code of an Events::api event: a batch of session events, or the answer to a login.
constexpr Sint32 kSessionEvents = 0;
constexpr Sint32 kLoginAnswer = 1;

// A login asked on a helper thread while the login screen stays live.
struct LoginAnswer {
  unsigned generation = 0;
  LoginResult result;
};

// Where helper threads (socket watch, session events, signals) post to the UI thread. SDL opens
// on the UI thread while the connect helper already works, so a push waits until it has (or has
// failed to). Shared with the threads: a detached long-poll that finishes late still finds it.
class EventSink {
 public:
  // UI thread, once: SDL's events are up (sdl non-null) or SDL could not be opened.
  void opened(std::shared_ptr<const Sdl> sdl, Events ev) {
    sdl_ = std::move(sdl);
    ev_ = ev;
    opened_.set_value();
  }
  // Any thread; false when the event cannot be queued (SDL missing or already shut down).
  bool push(Uint32 Events::*type, Sint32 code, void* data) const {
    ready_.wait();
    if (!sdl_) return false;
    SDL_Event e{};
    e.type = ev_.*type;
    e.user.code = code;
    e.user.data1 = data;
    return sdl_->SDL_PushEvent(&e) == 1;
  }

 private:
  std::shared_ptr<const Sdl> sdl_;
  Events ev_;
  std::promise<void> opened_;
  std::shared_future<void> ready_ = opened_.get_future().share();
};

// Signals become SDL events: a thread waits for them (they are blocked everywhere else).
class SignalThread {
 public:
  explicit SignalThread(std::function<void(int)> deliver) {
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGUSR1, SIGUSR2, SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    thread_ = std::thread([set, deliver = std::move(deliver)] {
      for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0) continue;
        if (sig == SIGUSR2) return;  // our own stop request
        deliver(sig);
      }
    });
  }
  ~SignalThread() {
    pthread_kill(thread_.native_handle(), SIGUSR2);
    thread_.join();
  }
  SignalThread(const SignalThread&) = delete;
  SignalThread& operator=(const SignalThread&) = delete;

 private:
  std::thread thread_;
};

class App final : public RfbListener {
 public:
  App(Options opt, std::shared_ptr<spdlog::logger> log) : opt_(std::move(opt)), log_(std::move(log)) {
    if (!opt_.server.empty()) api_ = std::shared_ptr<SessionApi>(make_http_session_api(opt_.server, opt_.ca_file));
    if (opt_.client_id.empty()) {
      char host[256] = {};
      gethostname(host, sizeof host - 1);
      opt_.client_id = host;
    }
    reset_machine();
  }
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  int run();

  // RfbListener
  void on_resize(int w, int h) override;
  void on_rect(const Rect& r) override;
  void on_update_done() override;
  void on_clipboard(const std::string& latin1) override;

 private:
  void reset_machine() {
    machine_.emplace(clock_, api_ != nullptr, BackoffPolicy{}, static_cast<std::uint32_t>(getpid()));
    moved_at_.reset();
  }
  Result<std::unique_ptr<Ui>> open_display();
  Result<void> open_sdl();
  void perform(Command c);
  Command do_login();
  Command finish_login(LoginResult r);
  Command do_connect();
  Command do_credential();
  void drop_connection();
  void handle(const SDL_Event& e);
  void handle_login_key(const SDL_Event& e);
  void handle_desktop_input(const SDL_Event& e);
  void promote_first_frame();
  void pump_until_display(int display_ready);
  bool pump_connection();
  void sync_pointer();
  void screenshot();
  void first_screenshot();
  void draw();
  [[nodiscard]] bool quiet_start() const {
    return !ui_->has_desktop() && machine_->phase() == Phase::connecting && clock_.now() - connect_started_ < kQuietStart;
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
  std::unique_ptr<RfbConnection> conn_;
  std::unique_ptr<SocketWatch> watch_;
  std::unique_ptr<EventPoller> poller_;
  std::int32_t generation_ = 0;
  LoginForm form_;
  unsigned login_generation_ = 0;  // answers to an older login (a quit meanwhile) are dropped
  KeyTracker keys_;
  RepeatLog connect_failures_;  // a refusing desktop is retried every 0.2-4 s: not one line each
  DirtyRegion dirty_;
  int buttons_ = 0;
  FirstFrameGate gate_{kBlackGrace};  // the new connection's picture: when it may be shown
  Millis connect_started_{}, app_started_{};
  std::optional<Millis> moved_at_;  // a 'moved' event arrived: for the ack's blackout figure
  std::optional<Millis> shot_due_;  // first full frame shown, --screenshot not written yet
  bool frame_waiting_ = false;  // first full frame decoded before the window existed: shown once it does
  bool redraw_ = true, quit_ = false, shot_taken_ = false, first_present_logged_ = false, warmed_ = false;
  int exit_code_ = 0;
  std::string clipboard_sent_;
  bool clipboard_waiting_ = false;
  // stats
  std::optional<long> first_frame_ms_;  // connect start -> first full frame, first connection
  std::vector<long> reframe_ms_;        // same for every later connection
  std::vector<long> outage_ms_;         // link lost -> first frame again
  std::uint64_t frames_ = 0, rects_ = 0;
  unsigned connections_ = 0;
};

App::~App() {
  poller_.reset();
  watch_.reset();
  conn_.reset();
  ui_.reset();
  signals_.reset();
  if (sdl_) sdl_->SDL_Quit();
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

int App::run() {
  app_started_ = clock_.now();
  // Log in and connect while the display opens when the flags allow: the handshake, the
  // server's first frame and its decoding happen while SDL loads and starts (~8 ms of loading
  // its libraries, then 20-40 ms, most of it Xlib's Compose table). Until the join only the
  // helper touches the session; ui_ stays empty, so it draws nothing; the eventfd tells it that
  // the display is ready.
  std::thread early;
  std::exception_ptr early_error;
  int display_ready = eventfd(0, EFD_CLOEXEC);
  if (opt_.vnc || !opt_.user.empty()) {
    if (!opt_.vnc) form_.user = opt_.user;
    early = std::thread([this, &early_error, display_ready] {
      try {
        perform(opt_.vnc ? machine_->direct(*opt_.vnc) : machine_->submit(opt_.user, opt_.password));
        pump_until_display(display_ready);
      } catch (...) {
        early_error = std::current_exception();
      }
    });
  }
  auto ui = open_display();
  std::uint64_t one = 1;
  if (display_ready >= 0 && write(display_ready, &one, sizeof one) < 0)
    log_->warn("cannot wake the connect helper: '{}'", std::strerror(errno));
  if (early.joinable()) early.join();
  if (display_ready >= 0) close(display_ready);
  if (early_error) std::rethrow_exception(early_error);
  if (!ui) {
    log_->error("{}", ui.error().message);
    return 1;
  }
  ui_ = std::move(*ui);
  log_->debug("display ready {} ms after start", (clock_.now() - app_started_).count());
  sync_pointer();
  if (frame_waiting_ && conn_ && gate_.fresh()) promote_first_frame();
  if (clipboard_waiting_) sdl_->SDL_SetClipboardText(clipboard_sent_.c_str());
  sdl_->SDL_StartTextInput();
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
    // Read what has arrived before giving up on a non-black picture: the grace must not win
    // against data waiting in the socket (a slow start-up, e.g. under ASan, made it so).
    if (gate_.grace_over(clock_.now()) && pump_connection() && gate_.fresh()) promote_first_frame();
    if (shot_due_) first_screenshot();
    if (machine_->phase() == Phase::reconnecting) redraw_ = true;  // the overlay counts seconds
  }
  drop_connection();
  poller_.reset();
  write_stats();
  return exit_code_;
}

int App::wait_ms() const {
  long ms = 60000;
  auto now = clock_.now();
  if (auto d = machine_->next_deadline()) ms = std::min(ms, std::max(0L, (*d - now).count()));
  if (auto d = gate_.deadline()) ms = std::min(ms, std::max(0L, (*d - now).count()));
  if (redraw_ && ui_ && quiet_start()) ms = std::min(ms, std::max(0L, (connect_started_ + kQuietStart - now).count()));
  if (shot_due_ && conn_ && !gate_.fresh()) ms = std::min(ms, std::max(0L, (*shot_due_ + kShotWait - now).count()));
  if (machine_->phase() == Phase::reconnecting) ms = std::min(ms, 1000L);
  if (opt_.exit_after > 0) {
    long left = static_cast<long>(opt_.exit_after * 1000) - (now - app_started_).count();
    ms = std::min(ms, std::max(0L, left));
  }
  return static_cast<int>(ms);
}

void App::perform(Command c) {
  while (c != Command::none && !quit_) {
    switch (c) {
      case Command::none: break;
      case Command::login: c = do_login(); break;
      case Command::connect: c = do_connect(); break;
      case Command::fetch_credential: c = do_credential(); break;
      case Command::show_login:
        drop_connection();
        poller_.reset();
        moved_at_.reset();  // a move of the session just left must not be acked into the next
        form_.busy = false;
        form_.password.clear();
        form_.message = machine_->message();
        log_->warn("login screen: {}", form_.message);
        redraw_ = true;
        c = Command::none;
        break;
      case Command::quit: {
        log_->info("session ended: {}", machine_->message());
        drop_connection();
        poller_.reset();
        if (!opt_.user.empty() || opt_.vnc) {  // driven by flags (tests): the run is over
          quit_ = true;
        } else {  // a lab PC: back to the login screen for the next student
          std::string why = machine_->message();
          ++login_generation_;
          reset_machine();
          form_ = LoginForm{};
          form_.message = why;
        }
        redraw_ = true;
        c = Command::none;
        break;
      }
    }
  }
}

Command App::do_login() {
  form_.busy = true;
  redraw_ = true;
  api::LoginRequest req{machine_->user(), machine_->password(), opt_.client_id};
  // Before the display exists (--user: the connect helper) nothing is on screen to freeze.
  if (!ui_) return finish_login(api_->login(req));
  // With the login screen up, the answer (seconds while a desktop starts, up to the API's
  // timeout) must not freeze it: a helper asks and posts the answer to the UI thread.
  std::thread([api = api_, sink = sink_, req = std::move(req), generation = ++login_generation_] {
    auto* answer = new LoginAnswer{generation, api->login(req)};
    if (!sink->push(&Events::api, kLoginAnswer, answer)) delete answer;
  }).detach();
  return Command::none;
}

Command App::finish_login(LoginResult r) {
  form_.busy = false;
  redraw_ = true;
  if (!r) {
    log_->warn("login as '{}' failed: {} ({})", machine_->user(), r.error().error.message, r.error().error.code);
    return machine_->login_failed(r.error());
  }
  log_->info("logged in as '{}': session '{}', desktop at '{}:{}', tier {} MiB", machine_->user(),
             r->session, r->endpoint.host, r->endpoint.port, r->tier_mib);
  auto cmd = machine_->login_ok(*r);
  poller_ = std::make_unique<EventPoller>(api_, r->session, r->token, 0, [sink = sink_](api::EventBatch b) {
    auto* batch = new api::EventBatch(std::move(b));
    if (!sink->push(&Events::api, kSessionEvents, batch)) delete batch;
  });
  return cmd;
}

Command App::do_credential() {
  auto r = api_->credential(machine_->session(), machine_->token());
  if (!r) {
    log_->warn("fresh credential: {} ({})", r.error().message, r.error().code);
    return machine_->credential_failed(r.error());
  }
  return machine_->credential_ok(*r);
}

void App::drop_connection() {
  watch_.reset();  // before the socket it watches
  conn_.reset();
  gate_.shown();
  ++generation_;
}

Command App::do_connect() {
  drop_connection();
  const auto& t = machine_->target();
  connect_started_ = clock_.now();
  auto r = RfbConnection::open(t, opt_.rfb, *this);
  if (!r) {
    if (auto n = connect_failures_.failed(t.endpoint.host + ":" + std::to_string(t.endpoint.port)); n == 1U)
      log_->warn("{}", r.error().message);
    else if (n)
      log_->warn("still cannot open the desktop at '{}:{}' after {} tries", t.endpoint.host, t.endpoint.port, *n);
    redraw_ = true;
    return machine_->connect_failed();
  }
  if (auto n = connect_failures_.succeeded(); n > 0)
    log_->info("opened the desktop at '{}:{}' after {} failed tries", t.endpoint.host, t.endpoint.port, n);
  conn_ = std::move(*r);
  gate_.connected(connect_started_);
  log_->debug("handshake done {} ms after start", (clock_.now() - app_started_).count());
  ++connections_;
  log_->info("connected to '{}:{}' ('{}', {}x{}) in {} ms", t.endpoint.host, t.endpoint.port,
             conn_->desktop_name(), conn_->width(), conn_->height(), (clock_.now() - connect_started_).count());
  sync_pointer();
  auto gen = generation_;
  watch_ = std::make_unique<SocketWatch>(conn_->fd(), [sink = sink_, gen] { sink->push(&Events::rfb, gen, nullptr); });
  return Command::none;
}

void App::on_resize(int w, int h) {
  log_->info("desktop size {}x{}", w, h);
  gate_.resized();
  if (!gate_.fresh() && conn_) {  // a live size change: new texture, everything is new
    ui_->set_desktop_size(w, h);
    dirty_.set_bounds(w, h);
  }
}

void App::on_rect(const Rect& r) {
  ++rects_;
  if (gate_.fresh()) gate_.decoded(r.area());
  else dirty_.add(r);
}

void App::on_update_done() {
  if (!conn_) return;
  if (gate_.fresh()) {
    if (!gate_.complete(static_cast<long>(conn_->width()) * conn_->height())) {
      log_->debug("partial update while connecting: {} px covered, {} ms after connecting", gate_.covered(),
                  gate_.since_connect(clock_.now()).count());
      return;
    }
    auto colour = uniform_colour(conn_->pixels(), conn_->width(), conn_->height(), conn_->stride());
    bool black = colour && *colour == 0;
    log_->debug("update while connecting: {} px covered, {} ms after connecting{}", gate_.covered(),
                gate_.since_connect(clock_.now()).count(), black ? ", all black: QEMU's stale surface, waiting" : "");
    if (black) return;
    if (ui_) promote_first_frame();
    else frame_waiting_ = true;  // decoded while SDL starts: shown as soon as the window exists
    return;
  }
  auto rects = dirty_.take();
  if (rects.empty()) return;
  ui_->upload(rects, conn_->pixels(), conn_->stride());
  ++frames_;
  redraw_ = true;
  if (shot_due_) first_screenshot();
}

// The first connection is made while SDL starts (~20-40 ms, most of it Xlib's Compose table):
// reading and decoding the first picture meanwhile on this helper thread takes that work off the
// path to the first frame. Stops when the display is ready (the UI thread takes over), when the
// picture is complete, or when the connection is gone.
void App::pump_until_display(int display_ready) {
  while (conn_ && gate_.fresh() && !frame_waiting_ && display_ready >= 0) {
    pollfd fds[2] = {{conn_->fd(), POLLIN, 0}, {display_ready, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0 || (fds[1].revents & POLLIN) != 0) return;
    if (!pump_connection()) return;
  }
}

// The new connection's picture is complete: only now does it replace the old one on screen.
void App::promote_first_frame() {
  gate_.shown();
  frame_waiting_ = false;
  long ms = (clock_.now() - connect_started_).count();
  auto lost = machine_->lost_since();
  if (!first_frame_ms_) {
    first_frame_ms_ = ms;
  } else {
    reframe_ms_.push_back(ms);
  }
  if (lost) outage_ms_.push_back((clock_.now() - *lost).count());
  log_->info("first full frame {}x{} {} ms after connecting{}", conn_->width(), conn_->height(), ms,
             lost ? fmt::format(", {} ms after the link was lost", (clock_.now() - *lost).count()) : "");
  ui_->set_desktop_size(conn_->width(), conn_->height());
  dirty_.set_bounds(conn_->width(), conn_->height());
  dirty_.take();
  ui_->upload({Rect{0, 0, conn_->width(), conn_->height()}}, conn_->pixels(), conn_->stride());
  ++frames_;
  perform(machine_->first_frame());
  redraw_ = true;
  if (moved_at_ && api_) {
    long frozen = (clock_.now() - *moved_at_).count();
    moved_at_.reset();
    log_->info("followed the move: picture frozen {} ms, never black", frozen);
    if (auto a = api_->ack(machine_->session(), machine_->token(), frozen); !a)
      log_->warn("ack of the move: {}", a.error().message);
  }
  if (!opt_.screenshot.empty() && !shot_taken_) {
    shot_taken_ = true;
    shot_due_ = clock_.now();
    first_screenshot();
  }
}

// The --screenshot after the first full frame: of a picture that is not one colour, or, if the
// desktop stays one colour for kShotWait, of that.
void App::first_screenshot() {
  if (!conn_ || gate_.fresh()) return;  // connection lost meanwhile: the next first frame decides
  bool blank = uniform_colour(conn_->pixels(), conn_->width(), conn_->height(), conn_->stride()).has_value();
  bool late = clock_.now() - *shot_due_ >= kShotWait;
  if (blank && !late) return;
  if (blank) log_->warn("the desktop is still one colour {} ms after its first frame: screenshot taken anyway", kShotWait.count());
  shot_due_.reset();
  screenshot();
}

// Handles what the server has sent; false when the connection is gone (then reconnecting).
bool App::pump_connection() {
  if (!conn_) return false;
  auto r = conn_->pump();
  if (r) return true;
  log_->warn("{}: keeping the last frame and reconnecting", r.error().message);
  for (auto k : keys_.release_all()) (void)k;  // the server drops held keys with the link
  drop_connection();
  perform(machine_->connection_lost());
  redraw_ = true;
  return false;
}

// Tells a new connection where the pointer is, right after the handshake. Besides keeping the
// desktop's pointer where the student's is, QEMU shortens its refresh interval on input, so the
// first picture comes on its next 30 ms tick instead of the idle one ~85 ms after connecting
// (TigerVNC gets the same from its clipboard reply). Before the window exists (the first
// connect, while SDL starts) the pointer is not known yet: the desktop's centre stands in for
// it (where an X server puts the pointer at start) and the real position follows once the
// window is open; waiting for the window made the picture wait for SDL's start-up.
void App::sync_pointer() {
  if (!conn_) return;
  Point p{conn_->width() / 2, conn_->height() / 2};
  if (ui_)
    p = to_desktop(fit(conn_->width(), conn_->height(), ui_->output_w(), ui_->output_h()), conn_->width(),
                   conn_->height(), ui_->mouse());
  conn_->pointer(p.x, p.y, buttons_);
}

void App::screenshot() {
  if (!conn_ || gate_.fresh()) {
    log_->warn("no desktop on screen yet: screenshot skipped");
    return;
  }
  auto r = write_png(opt_.screenshot, conn_->pixels(), conn_->width(), conn_->height(), conn_->stride());
  if (!r) log_->error("{}", r.error().message);
  else log_->info("screenshot written to '{}'", opt_.screenshot);
}

void App::on_clipboard(const std::string& latin1) {
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
      return "Reconnecting... (" + std::to_string(s) + " s)";
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
      ui_->warm_up(conn_ ? conn_->width() : 0, conn_ ? conn_->height() : 0);
    }
    return;
  }
  redraw_ = false;
  if (login_screen() && !opt_.vnc) ui_->draw_login(form_);
  else ui_->present(overlay());
  if (!first_present_logged_ && ui_->has_desktop()) {
    first_present_logged_ = true;
    log_->debug("first desktop frame presented {} ms after start", (clock_.now() - app_started_).count());
  }
}

void App::handle(const SDL_Event& e) {
  if (e.type == ev_.rfb) {
    if (e.user.code != generation_ || !conn_) return;
    if (pump_connection() && watch_) watch_->rearm();
    return;
  }
  if (e.type == ev_.api && e.user.code == kLoginAnswer) {
    std::unique_ptr<LoginAnswer> answer(static_cast<LoginAnswer*>(e.user.data1));
    if (answer->generation == login_generation_ && machine_->phase() == Phase::logging_in) {
      perform(finish_login(std::move(answer->result)));
    }
    return;
  }
  if (e.type == ev_.api) {
    std::unique_ptr<api::EventBatch> b(static_cast<api::EventBatch*>(e.user.data1));
    for (const auto& ev : b->events) {
      log_->info("session event {} '{}'", ev.seq, ev.type);
      auto cmd = machine_->event(ev);
      // From the first move the machine follows until a picture is back (a retry in between
      // still counts: the picture stayed frozen).
      if (ev.type == api::event_type::moved && machine_->phase() == Phase::following && !moved_at_)
        moved_at_ = clock_.now();
      perform(cmd);
    }
    return;
  }
  if (e.type == ev_.signal) {
    if (e.user.code == SIGUSR1) {
      screenshot();
    } else {
      log_->info("signal {}: quitting", e.user.code);
      quit_ = true;
    }
    return;
  }
  switch (e.type) {
    case SDL_QUIT: quit_ = true; return;
    case SDL_WINDOWEVENT:
      if (e.window.event == SDL_WINDOWEVENT_FOCUS_LOST && conn_) {
        for (auto k : keys_.release_all()) conn_->key(k, false);
      }
      redraw_ = true;
      return;
    case SDL_CLIPBOARDUPDATE:
      if (conn_ && sdl_->SDL_HasClipboardText()) {
        char* t = sdl_->SDL_GetClipboardText();
        std::string text = t ? t : "";
        sdl_->SDL_free(t);
        if (text != clipboard_sent_) {
          clipboard_sent_ = text;
          conn_->clipboard(utf8_to_latin1(text));
        }
      }
      return;
    default: break;
  }
  if (login_screen() && !opt_.vnc) handle_login_key(e);
  else handle_desktop_input(e);
}

void App::handle_login_key(const SDL_Event& e) {
  if (machine_->phase() != Phase::login) return;
  std::string& field = form_.focus == 0 ? form_.user : form_.password;
  if (e.type == SDL_TEXTINPUT) {
    field += e.text.text;
    redraw_ = true;
  } else if (e.type == SDL_KEYDOWN) {
    auto k = e.key.keysym.sym;
    if (k == SDLK_BACKSPACE && !field.empty()) {
      do field.pop_back();  // whole UTF-8 sequence
      while (!field.empty() && (static_cast<unsigned char>(field.back()) & 0xC0U) == 0x80U);
    } else if (k == SDLK_TAB || (k == SDLK_RETURN && form_.focus == 0)) {
      form_.focus = 1 - form_.focus;
    } else if (k == SDLK_RETURN || k == SDLK_KP_ENTER) {
      if (!form_.user.empty()) {
        form_.message.clear();
        perform(machine_->submit(form_.user, form_.password));
        form_.password.clear();
      }
    }
    redraw_ = true;
  }
}

void App::handle_desktop_input(const SDL_Event& e) {
  if (!conn_ || gate_.fresh()) return;
  switch (e.type) {
    case SDL_KEYDOWN: {
      const auto& ks = e.key.keysym;
      if ((ks.mod & KMOD_CTRL) && (ks.mod & KMOD_ALT) && (ks.mod & KMOD_SHIFT) && ks.sym == SDLK_q && api_) {
        for (auto k : keys_.release_all()) conn_->key(k, false);
        (void)api_->logout(machine_->session(), machine_->token());
        log_->info("logged out by the student");
        drop_connection();
        poller_.reset();
        reset_machine();
        form_ = LoginForm{};
        form_.message = "You have signed out.";
        redraw_ = true;
        return;
      }
      if (auto sym = keys_.down(ks.scancode, ks.sym, ks.mod)) conn_->key(*sym, true);
      return;
    }
    case SDL_KEYUP:
      if (auto sym = keys_.up(e.key.keysym.scancode)) conn_->key(*sym, false);
      return;
    case SDL_MOUSEMOTION: {
      auto p = to_desktop(ui_->view(), conn_->width(), conn_->height(), {e.motion.x, e.motion.y});
      conn_->pointer(p.x, p.y, buttons_);
      return;
    }
    case SDL_MOUSEBUTTONDOWN:
    case SDL_MOUSEBUTTONUP: {
      int bit = e.button.button == SDL_BUTTON_LEFT ? 1 : e.button.button == SDL_BUTTON_MIDDLE ? 2
              : e.button.button == SDL_BUTTON_RIGHT ? 4 : 0;
      buttons_ = e.type == SDL_MOUSEBUTTONDOWN ? (buttons_ | bit) : (buttons_ & ~bit);
      auto p = to_desktop(ui_->view(), conn_->width(), conn_->height(), {e.button.x, e.button.y});
      conn_->pointer(p.x, p.y, buttons_);
      return;
    }
    case SDL_MOUSEWHEEL: {
      int x = 0, y = 0;
      sdl_->SDL_GetMouseState(&x, &y);
      auto p = to_desktop(ui_->view(), conn_->width(), conn_->height(), {x, y});
      int bit = e.wheel.y > 0 ? 8 : e.wheel.y < 0 ? 16 : e.wheel.x < 0 ? 32 : 64;
      conn_->pointer(p.x, p.y, buttons_ | bit);
      conn_->pointer(p.x, p.y, buttons_);
      return;
    }
    default: return;
  }
}

void App::write_stats() {
  if (opt_.stats.empty()) return;
  nlohmann::json j = {{"first_frame_ms", first_frame_ms_ ? nlohmann::json(*first_frame_ms_) : nullptr},
                      {"reconnect_first_frame_ms", reframe_ms_},
                      {"outage_to_frame_ms", outage_ms_},
                      {"connections", connections_},
                      {"frames", frames_},
                      {"rects", rects_},
                      {"uploaded_pixels", ui_ ? ui_->uploaded_pixels() : 0},
                      {"phase", to_string(machine_->phase())},
                      {"session", machine_->session()}};
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
  {  // blocked before SDL starts any thread, so only SignalThread ever receives them
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGUSR1, SIGUSR2, SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
  }
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
