// SHA-256 of a file's bytes: the integrity check of every artifact we write and read back (checkpoint
// files today). A cryptographic digest rather than our FNV cache key, so that `sha256sum` can verify it
// by hand and no corruption pattern collides by accident.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace oasis {

struct FileDigest {
  int64_t bytes = 0;
  std::string sha256;  // lowercase hex
};

// Throws RuntimeError naming the file when it cannot be read.
FileDigest digest_file(const std::filesystem::path& file);

// A digest kept beside a file that a library parses without checking (stats.h5 for libhdf5): <file>.sha256
// in sha256sum's format ("<hex>  <name>"), so `sha256sum -c` verifies it too. Written atomically.
void write_digest_sidecar(const std::filesystem::path& file);

// Why `file` does not match its <file>.sha256 (or the sidecar is unreadable), or nullopt when it matches
// or has no sidecar (written before sidecars existed).
std::optional<std::string> sidecar_mismatch(const std::filesystem::path& file);

}  // namespace oasis
