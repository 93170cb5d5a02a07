// The agent's HTTP API (/v1, docs/api/agent.md): request parsing and answers only; the work is
// done by Desktops, LoadSampler and EventLog.
#pragma once

#include <functional>

#include <boost/asio/io_context.hpp>

#include "labdesk/agent/desktops.hpp"
#include "labdesk/agent/events.hpp"
#include "labdesk/agent/load.hpp"
#include "labdesk/http/router.hpp"

namespace labdesk::agent {

struct ApiDeps {
  Desktops& desktops;
  LoadSampler& load;
  EventLog& events;
  std::function<api::agent::Health()> health;
  boost::asio::io_context& io;  // timers of the long-poll
};

http::Router make_router(ApiDeps deps);

}  // namespace labdesk::agent
