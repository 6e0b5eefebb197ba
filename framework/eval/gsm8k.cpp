#include "framework/eval/gsm8k.h"

#include <fstream>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "framework/core/errors.h"
#include "framework/core/paths.h"
#include "framework/core/python_random.h"
#include "framework/core/regex.h"
#include "framework/core/text.h"

namespace oasis {
namespace fs = std::filesystem;

std::vector<Gsm8kItem> load_gsm8k(const std::string& data_dir, const std::string& split) {
  const fs::path file = find_dataset_dir(data_dir, "gsm8k", "gsm8k") / (split + ".jsonl");
  std::ifstream in(file);
  if (!in) throw RuntimeError(fmt::format("{}: cannot read (GSM8K split '{}')", file.string(), split));
  std::vector<Gsm8kItem> items;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    try {
      const auto row = nlohmann::json::parse(line);
      items.push_back({int64_t(items.size()), row.at("question").get<std::string>(), row.at("answer").get<std::string>()});
    } catch (const std::exception& e) {
      throw RuntimeError(fmt::format("{}:{}: expected a JSON object with string keys question and answer ({})",
                                     file.string(), number, e.what()));
    }
  }
  if (items.empty()) throw RuntimeError(fmt::format("{}: no items", file.string()));
  return items;
}

namespace {

// lm-eval's gsm8k-cot exemplars (Wei et al. 2022), in order.
const std::vector<std::pair<std::string, std::string>>& cot_exemplars() {
  static const std::vector<std::pair<std::string, std::string>> exemplars = {
      {"There are 15 trees in the grove. Grove workers will plant trees in the grove today. After they are done, there "
       "will be 21 trees. How many trees did the grove workers plant today?",
       "There are 15 trees originally. Then there were 21 trees after some more were planted. So there must have been "
       "21 - 15 = 6. The answer is 6."},
      {"If there are 3 cars in the parking lot and 2 more cars arrive, how many cars are in the parking lot?",
       "There are originally 3 cars. 2 more cars arrive. 3 + 2 = 5. The answer is 5."},
      {"Leah had 32 chocolates and her sister had 42. If they ate 35, how many pieces do they have left in total?",
       "Originally, Leah had 32 chocolates. Her sister had 42. So in total they had 32 + 42 = 74. After eating 35, they "
       "had 74 - 35 = 39. The answer is 39."},
      {"Jason had 20 lollipops. He gave Denny some lollipops. Now Jason has 12 lollipops. How many lollipops did Jason "
       "give to Denny?",
       "Jason started with 20 lollipops. Then he had 12 after giving some to Denny. So he gave Denny 20 - 12 = 8. The "
       "answer is 8."},
      {"Shawn has five toys. For Christmas, he got two toys each from his mom and dad. How many toys does he have now?",
       "Shawn started with 5 toys. If he got 2 toys each from his mom and dad, then that is 4 more toys. 5 + 4 = 9. The "
       "answer is 9."},
      {"There were nine computers in the server room. Five more computers were installed each day, from monday to "
       "thursday. How many computers are now in the server room?",
       "There were originally 9 computers. For each of 4 days, 5 more computers were added. So 5 * 4 = 20 computers "
       "were added. 9 + 20 is 29. The answer is 29."},
      {"Michael had 58 golf balls. On tuesday, he lost 23 golf balls. On wednesday, he lost 2 more. How many golf balls "
       "did he have at the end of wednesday?",
       "Michael started with 58 golf balls. After losing 23 on tuesday, he had 58 - 23 = 35. After losing 2 more, he "
       "had 35 - 2 = 33 golf balls. The answer is 33."},
      {"Olivia has $23. She bought five bagels for $3 each. How much money does she have left?",
       "Olivia had 23 dollars. 5 bagels for 3 dollars each will be 5 x 3 = 15 dollars. So she has 23 - 15 dollars left. "
       "23 - 15 is 8. The answer is 8."},
  };
  return exemplars;
}

std::string question_text(const Gsm8kTask& task, const std::string& question) {
  return task.chain_of_thought ? "Q: " + question + "\nA:" : "Question: " + question + "\nAnswer:";
}

// Python's str.strip() for ASCII whitespace.
std::string strip(const std::string& s) {
  const char* space = " \t\n\r\f\v";
  const size_t first = s.find_first_not_of(space);
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(space) - first + 1);
}

// lm-eval's RegexFilter + take_first: the selected match (group_select, negative from the end); of a
// multi-group match, the first non-empty group; stripped.
std::string regex_filter(const Regex& regex, const std::string& text, int group_select) {
  const auto matches = regex.find_all(text);
  if (matches.empty()) return "[invalid]";
  const int64_t at = group_select >= 0 ? group_select : int64_t(matches.size()) + group_select;
  if (at < 0 || at >= int64_t(matches.size())) return "[invalid]";
  const auto& groups = matches[size_t(at)];
  for (const auto& g : groups)
    if (!g.empty()) return strip(g);
  return groups.size() == 1 ? strip(groups[0]) : "[invalid]";
}

}  // namespace

Registry<Gsm8kTask>& gsm8k_task_registry() {
  static Registry<Gsm8kTask> registry("GSM8K task");
  return registry;
}

std::vector<std::string> gsm8k_task_names() { return gsm8k_task_registry().names(); }

const Gsm8kTask& gsm8k_task(const std::string& name) { return gsm8k_task_registry().get(name); }

namespace {
// lm-eval's gsm8k.yaml and gsm8k-cot.yaml at metadata version 3.0: prompt format, shots, stop sequences and
// the strict-match regex (the flexible-extract filter is the same for both).
const bool gsm8k_registered = gsm8k_task_registry().add(
    "gsm8k", {"gsm8k", "3.0", false, 5, {"Question:", "</s>", "<|im_end|>"},
              std::make_shared<Regex>(R"(#### (\-?[0-9\.\,]+))")});
const bool gsm8k_cot_registered = gsm8k_task_registry().add(
    "gsm8k-cot", {"gsm8k-cot", "3.0", true, 8, {"Q:", "</s>", "<|im_end|>"},
                  std::make_shared<Regex>(R"(The answer is (\-?[0-9\.\,]+).)")});
}  // namespace

std::vector<std::string> gsm8k_prompts(const Gsm8kTask& task, int64_t num_fewshot, uint64_t seed,
                                       const std::vector<Gsm8kItem>& train, const std::vector<Gsm8kItem>& test) {
  const int64_t available = task.chain_of_thought ? int64_t(cot_exemplars().size()) : int64_t(train.size());
  if (num_fewshot < 0 || num_fewshot > available)
    throw ConfigError(fmt::format("gsm8k.num_fewshot: expected 0..{} for task {}, got {}", available, task.name, num_fewshot));
  PythonRandom random(seed);  // one stream for the whole split, drawn item by item as lm-eval does
  std::vector<std::string> prompts;
  prompts.reserve(test.size());
  for (const auto& item : test) {
    std::string context;
    if (task.chain_of_thought) {
      for (int64_t i = 0; i < num_fewshot; ++i) {
        const auto& [question, target] = cot_exemplars()[size_t(i)];
        context += question_text(task, question) + " " + target + "\n\n";
      }
    } else if (num_fewshot > 0) {
      for (int64_t i : random.sample(int64_t(train.size()), num_fewshot)) {
        const Gsm8kItem& shot = train[size_t(i)];
        context += question_text(task, shot.question) + " " + shot.answer + "\n\n";
      }
    }
    prompts.push_back(context + question_text(task, item.question));
  }
  return prompts;
}

std::string gsm8k_reference(const Gsm8kTask& task, const Gsm8kItem& item) {
  if (!task.chain_of_thought) return item.answer;
  const size_t mark = item.answer.rfind("####");
  return strip(mark == std::string::npos ? item.answer : item.answer.substr(mark + 4));
}

PromptTarget gsm8k_training_text(const Gsm8kTask& task, const Gsm8kItem& item) {
  PromptTarget out{question_text(task, item.question), " " + item.answer};
  if (!task.chain_of_thought) return out;
  static const Regex calculator(R"(<<[^>]*>>)");
  const size_t mark = item.answer.rfind("\n####");
  std::string steps = calculator.replace_all(item.answer.substr(0, mark), "");
  for (char& c : steps)
    if (c == '\n') c = ' ';
  out.target = " " + strip(steps) + " The answer is " + gsm8k_reference(task, item) + ".";
  return out;
}

std::string strict_extract(const Gsm8kTask& task, const std::string& completion) {
  return regex_filter(*task.strict, completion, 0);
}

std::string flexible_extract(const std::string& completion) {
  static const Regex last_number(R"((-?[$0-9.,]{2,})|(-?[0-9]+))");
  return regex_filter(last_number, completion, -1);
}

std::string normalize_gsm8k_answer(const std::string& text) {
  static const Regex comma(","), dollar(R"(\$)"), through_marker("(?s).*#### "), final_period(R"(\.$)");
  std::string out = text;
  for (const Regex* r : {&comma, &dollar, &through_marker, &final_period}) out = r->replace_all(out, "");
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool gsm8k_exact_match(const std::string& prediction, const std::string& reference) {
  return normalize_gsm8k_answer(prediction) == normalize_gsm8k_answer(reference);
}

}  // namespace oasis
