// SHA-256 of a file's bytes: the integrity check of every artifact we write and read back (checkpoint
// files today). A cryptographic digest rather than our FNV cache key, so that `sha256sum` can verify it
// by hand and no corruption pattern collides by accident.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

namespace oasis {

struct FileDigest {
  int64_t bytes = 0;
  std::string sha256;  // lowercase hex
};

// Throws RuntimeError naming the file when it cannot be read.
FileDigest digest_file(const std::filesystem::path& file);

}  // namespace oasis
