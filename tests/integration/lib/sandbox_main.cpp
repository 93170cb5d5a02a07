// main() of an integration-test binary: unless already inside, it re-runs itself in a fresh
// sandbox (sandbox.sh: own mount + network namespace, own libvirtd), so each ctest case gets its
// own daemons. Listing test cases (ctest discovery) runs without one.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  bool listing = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.starts_with("--list") || a.starts_with("-l") || a == "--help" || a == "-h") listing = true;
  }
  if (!listing && !std::getenv("LABDESK_SANDBOX")) {
    std::string script = std::string(LABDESK_SOURCE_DIR) + "/tests/integration/lib/sandbox.sh";
    std::string self = "/proc/self/exe";
    char exe[4096] = {};
    if (readlink(self.c_str(), exe, sizeof exe - 1) > 0) self = exe;
    setenv("LABDESK_SANDBOX", "1", 1);
    std::vector<char*> args{const_cast<char*>(script.c_str()), const_cast<char*>("run"), self.data()};
    for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
    args.push_back(nullptr);
    execv(script.c_str(), args.data());
    std::cerr << "cannot run '" << script << "': " << std::strerror(errno) << "\n";
    return 1;
  }
  doctest::Context ctx(argc, argv);
  return ctx.run();
}
