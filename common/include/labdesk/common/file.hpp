// Whole small files (configs, certificates, /proc entries), read the one way.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace labdesk {

// The file's bytes, or nullopt when it cannot be opened (the caller names what it needed it for).
std::optional<std::string> read_file(const std::filesystem::path& path);

}  // namespace labdesk
