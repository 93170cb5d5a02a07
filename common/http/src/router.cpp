#include "labdesk/http/router.hpp"

namespace labdesk::http {
namespace {

std::vector<std::string> split(std::string_view path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') { ++i; continue; }
    auto j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

bool matches(const Route& r, const std::vector<std::string>& segs,
             std::map<std::string, std::string>* params) {
  if (r.segments.size() != segs.size()) return false;
  for (std::size_t i = 0; i < segs.size(); ++i) {
    const auto& p = r.segments[i];
    if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
      if (params) (*params)[p.substr(1, p.size() - 2)] = segs[i];
    } else if (p != segs[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

Router& Router::add(std::string method, const std::string& pattern, Handler h, Auth auth) {
  routes_.push_back(Route{std::move(method), split(pattern), std::move(h), nullptr, auth});
  return *this;
}

Router& Router::add_async(std::string method, const std::string& pattern, AsyncHandler h,
                          Auth auth) {
  routes_.push_back(Route{std::move(method), split(pattern), nullptr, std::move(h), auth});
  return *this;
}

Router::Match Router::match(Request& req) const {
  auto segs = split(req.path);
  Match m;
  for (const auto& r : routes_) {
    if (!matches(r, segs, nullptr)) continue;
    m.path_known = true;
    if (r.method == req.method || (r.method == "GET" && req.method == "HEAD")) {
      matches(r, segs, &req.params);
      m.route = &r;
      return m;
    }
  }
  return m;
}

}  // namespace labdesk::http
