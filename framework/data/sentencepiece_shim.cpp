// A plain-C wrapper around libsentencepiece, built as its own module (liboasis_spm.so) and loaded with
// dlmopen into a separate link-map namespace. Why: Debian's libsentencepiece carries its own copy of
// protobuf-lite and exports those symbols, which clash with the libprotobuf that LibTorch loads (a
// crash during static initialisation when both are linked into one binary). Isolated, each keeps its
// own protobuf. Only C types cross the boundary; memory is freed on the side that allocated it.
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cstring>
#include <string>
#include <vector>

namespace {
void copy_error(const std::string& message, char* error, int error_len) {
  if (error && error_len > 0) {
    std::strncpy(error, message.c_str(), size_t(error_len) - 1);
    error[error_len - 1] = '\0';
  }
}
}  // namespace

extern "C" {

int oasis_spm_train(const char* args, char* error, int error_len) {
  const auto status = sentencepiece::SentencePieceTrainer::Train(args);
  if (!status.ok()) copy_error(status.ToString(), error, error_len);
  return status.ok() ? 0 : 1;
}

void* oasis_spm_load(const char* blob, size_t len, char* error, int error_len) {
  auto* sp = new sentencepiece::SentencePieceProcessor();
  const auto status = sp->LoadFromSerializedProto(std::string_view(blob, len));
  if (!status.ok()) {
    copy_error(status.ToString(), error, error_len);
    delete sp;
    return nullptr;
  }
  return sp;
}

void oasis_spm_free(void* handle) { delete static_cast<sentencepiece::SentencePieceProcessor*>(handle); }

int oasis_spm_size(void* handle) { return static_cast<sentencepiece::SentencePieceProcessor*>(handle)->GetPieceSize(); }

int oasis_spm_eos(void* handle) { return static_cast<sentencepiece::SentencePieceProcessor*>(handle)->eos_id(); }

int oasis_spm_piece_to_id(void* handle, const char* piece) {
  return static_cast<sentencepiece::SentencePieceProcessor*>(handle)->PieceToId(piece);
}

// Writes piece `id` (NUL-terminated, truncated to buf_len) and its kind: 0 normal, 1 control,
// 2 unknown, 3 byte.
void oasis_spm_piece(void* handle, int id, char* buf, int buf_len, int* kind) {
  auto* sp = static_cast<sentencepiece::SentencePieceProcessor*>(handle);
  copy_error(sp->IdToPiece(id), buf, buf_len);
  *kind = sp->IsControl(id) ? 1 : sp->IsUnknown(id) ? 2 : sp->IsByte(id) ? 3 : 0;
}

// Encodes text into out (capacity `cap`); returns the id count, or -count when cap is too small.
int oasis_spm_encode(void* handle, const char* text, size_t len, int* out, int cap) {
  std::vector<int> ids;
  static_cast<sentencepiece::SentencePieceProcessor*>(handle)->Encode(std::string_view(text, len), &ids).IgnoreError();
  if (int(ids.size()) > cap) return -int(ids.size());
  std::memcpy(out, ids.data(), ids.size() * sizeof(int));
  return int(ids.size());
}

// Decodes ids into out (capacity `cap`); returns the byte count, or -count when cap is too small.
int oasis_spm_decode(void* handle, const int* ids, int n, char* out, int cap) {
  std::string text;
  static_cast<sentencepiece::SentencePieceProcessor*>(handle)->Decode(std::vector<int>(ids, ids + n), &text).IgnoreError();
  if (int(text.size()) > cap) return -int(text.size());
  std::memcpy(out, text.data(), text.size());
  return int(text.size());
}

}  // extern "C"
