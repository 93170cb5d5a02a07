#include <exception>
#include <iostream>

#include "ctl.hpp"

int main(int argc, char** argv) {
  try {
    return labdesk::ctl::run(argc, argv, {std::cin, std::cout, std::cerr});
  } catch (const std::exception& e) {
    std::cerr << "labdeskctl: internal error: " << e.what() << '\n';
    return 4;
  }
}
