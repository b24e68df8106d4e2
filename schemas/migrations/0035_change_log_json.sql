-- A change-log entry's changes as `json`, the text as written, instead of `jsonb` (issue "A
-- district in seconds…"): jsonb spends eight bytes of entry table on each field, the compact
-- text six on quotes and punctuation, and a first load's entry names nearly thirty fields (about
-- 58 bytes an entry). The log is written once and read whole — the feed, history and `log
-- verify` take the text and parse it in the hub — so nothing reads it through jsonb's index
-- or operators; json also takes the text in without building a binary form. Entries written
-- before keep jsonb's spelling (a space after each colon and comma): every reader parses both.
ALTER TABLE change_log ALTER COLUMN changes TYPE json USING changes::json;
