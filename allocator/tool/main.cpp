#include <exception>
#include <iostream>

#include "plan_cli.hpp"

int main(int argc, char** argv) {
  try {
    return labdesk::plan_cli::run(argc, argv, {std::cin, std::cout, std::cerr});
  } catch (const std::exception& e) {
    std::cerr << "labdesk-plan: internal error: " << e.what() << '\n';
    return 3;
  }
}
