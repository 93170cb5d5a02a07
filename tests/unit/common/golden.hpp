// Golden-file check shared by the unit tests: compares text with a file in the source tree, or
// rewrites the file when REGENERATE=1 is set.
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace labdesk::test {

// Returns "" when equal (or regenerated), else a message saying how to update.
inline std::string golden(const std::string& relative_path, const std::string& actual) {
  const std::string path = std::string(LABDESK_SOURCE_DIR) + "/" + relative_path;
  if (const char* r = std::getenv("REGENERATE"); r && std::string(r) == "1") {
    std::ofstream(path, std::ios::binary) << actual;
    return "";
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream expected;
  expected << in.rdbuf();
  if (expected.str() == actual) return "";
  return "golden file '" + relative_path + "' differs from the output: review, then rerun with REGENERATE=1";
}

// A file of the source tree (a test's input kept beside the golden files).
inline std::string read_source_file(const std::string& relative_path) {
  std::ifstream in(std::string(LABDESK_SOURCE_DIR) + "/" + relative_path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace labdesk::test
