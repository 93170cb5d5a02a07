#include <doctest/doctest.h>

#include "api/announce.hpp"

namespace {

using namespace labdesk;
const boot::AnnounceRules kRules{"10.77.0.1/24"};
const std::string kGood = R"({"mac":"52:54:00:77:00:AB","ip":"10.77.0.100","uptime_s":5.41,"cpu":1,"mem_mib":371})";

std::string why(const std::string& body, const std::string& remote = "10.77.0.100") {
  auto r = boot::parse_announce(body, remote, kRules);
  return r ? "" : r.error().code + " " + std::to_string(r.error().status) + ": " + r.error().message;
}

TEST_CASE("a well-formed announce parses, the MAC is normalised") {
  auto r = boot::parse_announce(kGood, "10.77.0.100", kRules);
  REQUIRE(r);
  CHECK(r->mac == "52:54:00:77:00:ab");
  CHECK(r->uptime_s == doctest::Approx(5.41));
  CHECK(r->mem_mib == 371);
  auto reply = boot::announce_reply(*r, "http://10.77.0.1:8080", "v");
  CHECK(reply["login"]["server"] == "http://10.77.0.1:8080");
}

TEST_CASE("malformed announces are 400 with the field named") {
  CHECK(why("not json").starts_with("bad_json 400"));
  CHECK(why("[1,2]").starts_with("bad_json 400"));
  CHECK(why(R"({"mac":"52:54:00:77:00:ab","ip":"10.77.0.100","uptime_s":1,"cpu":1})").find("'mem_mib' is missing") != std::string::npos);
  CHECK(why(R"({"mac":"52:54:00:77:00:ab","ip":"10.77.0.100","uptime_s":1,"cpu":1,"mem_mib":1,"x":1})").find("unknown announce field 'x'") != std::string::npos);
  CHECK(why(R"({"mac":"52-54-00-77-00-ab","ip":"10.77.0.100","uptime_s":1,"cpu":1,"mem_mib":1})").find("is not a MAC") != std::string::npos);
  CHECK(why(R"({"mac":"ff:ff:ff:ff:ff:ff","ip":"10.77.0.100","uptime_s":1,"cpu":1,"mem_mib":1})").find("not a NIC") != std::string::npos);
  CHECK(why(R"({"mac":"52:54:00:77:00:ab","ip":"10.77.0.300","uptime_s":1,"cpu":1,"mem_mib":1})").find("not an IPv4") != std::string::npos);
  CHECK(why(R"({"mac":"52:54:00:77:00:ab","ip":"10.77.0.100","uptime_s":-1,"cpu":1,"mem_mib":1})").find("uptime_s") != std::string::npos);
  CHECK(why(R"({"mac":"52:54:00:77:00:ab","ip":"10.77.0.100","uptime_s":1,"cpu":1.5,"mem_mib":1})").find("'cpu' must be a whole") != std::string::npos);
  CHECK(why(R"({"mac":"52:54:00:77:00:ab","ip":"10.77.0.100","uptime_s":1,"cpu":0,"mem_mib":1})").find("outside 1..4096") != std::string::npos);
  CHECK(why(R"({"mac":7,"ip":"10.77.0.100","uptime_s":1,"cpu":1,"mem_mib":1})").starts_with("bad_announce 400"));
}

TEST_CASE("announces from outside the lab, or for another address, are 403") {
  CHECK(why(R"({"mac":"52:54:00:77:00:ab","ip":"10.78.0.100","uptime_s":1,"cpu":1,"mem_mib":1})", "10.78.0.100").starts_with("unknown_client 403"));
  CHECK(why(kGood, "10.77.0.101").find("is not the sender's address '10.77.0.101'") != std::string::npos);
}

}  // namespace
