#include "framework/core/errors.h"

#include <c10/util/Exception.h>

namespace oasis {

std::string message_without_backtrace(const std::exception& error) {
  const auto* torch_error = dynamic_cast<const c10::Error*>(&error);
  return torch_error ? torch_error->what_without_backtrace() : error.what();
}

}  // namespace oasis
