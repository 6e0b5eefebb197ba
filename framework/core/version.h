// The code version (git sha, "-dirty" when uncommitted changes were built) recorded with every result.
#pragma once

namespace oasis {
const char* code_version();
}
