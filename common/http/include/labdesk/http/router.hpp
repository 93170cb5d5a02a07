// Maps method + path pattern ("/v1/desktops/{name}") to a handler.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "labdesk/http/message.hpp"

namespace labdesk::http {

using Handler = std::function<Response(const Request&)>;
// Replies later (long-poll); `reply` may be called from any thread, exactly once.
using Reply = std::function<void(Response)>;
using AsyncHandler = std::function<void(const Request&, Reply)>;

enum class Auth { required, none };

struct Route {
  std::string method;
  std::vector<std::string> segments;  // "{x}" captures one segment
  Handler handler;
  AsyncHandler async_handler;
  Auth auth = Auth::required;
};

class Router {
 public:
  Router& add(std::string method, const std::string& pattern, Handler h, Auth auth = Auth::required);
  Router& add_async(std::string method, const std::string& pattern, AsyncHandler h,
                    Auth auth = Auth::required);

  struct Match {
    const Route* route = nullptr;  // null: no route; see path_known for 404 vs 405
    bool path_known = false;
  };
  // Fills req.params on a match.
  [[nodiscard]] Match match(Request& req) const;

 private:
  std::vector<Route> routes_;
};

}  // namespace labdesk::http
