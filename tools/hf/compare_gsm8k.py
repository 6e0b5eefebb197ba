#!/usr/bin/env python3
"""Item by item: an oasis run's gsm8k_<scheme>.jsonl against lm-eval's --log_samples output on the same model.

  compare_gsm8k.py OASIS.jsonl LM_EVAL_OUTPUT_DIR

Prints one line per item (prompt equal, completion equal, extracted answer and correctness per filter) and the
Pass@1 of both per filter; exits 1 when any prompt, extracted answer or verdict differs.
"""
import glob
import json
import sys


def main():
    ours_file, lm_eval_dir = sys.argv[1], sys.argv[2]
    ours = [json.loads(line) for line in open(ours_file)]
    files = glob.glob(f"{lm_eval_dir}/**/samples_*.jsonl", recursive=True)
    if len(files) != 1:
        sys.exit(f"expected one samples_*.jsonl under {lm_eval_dir}, found {files}")
    theirs = {}
    for line in open(files[0]):
        record = json.loads(line)
        theirs.setdefault(record["doc_id"], {})[record["filter"]] = record
    differences = 0
    filters = ["strict-match", "flexible-extract"]
    correct = {("oasis", f): 0 for f in filters} | {("lm-eval", f): 0 for f in filters}
    for item in ours:
        records = theirs[item["id"]]
        any_record = next(iter(records.values()))
        prompt_equal = any_record["arguments"]["gen_args_0"]["arg_0"] == item["prompt"]
        completion_equal = any_record["resps"][0][0] == item["completion"]
        cells = []
        for f in filters:
            extracted = records[f]["filtered_resps"][0]
            same = extracted == item["extracted"][f] and bool(records[f]["exact_match"]) == item["correct_by_filter"][f]
            differences += not same
            correct[("oasis", f)] += item["correct_by_filter"][f]
            correct[("lm-eval", f)] += bool(records[f]["exact_match"])
            cells.append(f"{f} {item['extracted'][f]!r}/{extracted!r}{'' if same else ' DIFFERS'}")
        differences += not prompt_equal
        print(f"item {item['id']:>4}: prompt {'equal' if prompt_equal else 'DIFFERS'}, completion "
              f"{'equal' if completion_equal else 'differs'} | " + " | ".join(cells))
    n = len(ours)
    for f in filters:
        print(f"pass@1 {f}: oasis {correct[('oasis', f)]}/{n} = {correct[('oasis', f)] / n:.3f}, "
              f"lm-eval {correct[('lm-eval', f)]}/{n} = {correct[('lm-eval', f)] / n:.3f}")
    print("identical" if differences == 0 else f"{differences} differences")
    sys.exit(1 if differences else 0)


if __name__ == "__main__":
    main()
