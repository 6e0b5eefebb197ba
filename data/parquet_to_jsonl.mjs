// Converts a parquet file to JSON Lines, one object per row with the columns in file order; used by
// data/fetch.sh for the C4 sample (the result must match the manifest's sha256).
// Usage: node parquet_to_jsonl.mjs IN.parquet OUT.jsonl   (needs the npm package hyparquet)
import fs from "fs";
import { asyncBufferFromFile, parquetReadObjects } from "hyparquet";

const [input, output] = process.argv.slice(2);
const rows = await parquetReadObjects({ file: await asyncBufferFromFile(input) });
fs.writeFileSync(output, rows.map((row) => JSON.stringify(row)).join("\n") + "\n");
