#include "framework/core/json_file.h"

#include <fmt/format.h>

#include "framework/core/errors.h"
#include "framework/core/paths.h"

namespace oasis {

nlohmann::json read_json_file(const std::filesystem::path& file) {
  const std::string text = read_file(file);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    std::string message = e.what();  // "[json.exception.parse_error.101] parse error at line 3, column 5: ..."
    if (const auto end = message.find("] "); message.rfind("[json.", 0) == 0 && end != std::string::npos)
      message = message.substr(end + 2);
    throw RuntimeError(fmt::format("'{}' is not valid JSON ({} bytes): {}", file.string(), text.size(), message));
  }
}

}  // namespace oasis
