-- Provenance of takings (API.md, "Turnover and recovery"): a merchant's own report and the
-- bureau's import of the same day are kept apart, never overwriting each other; recovery
-- reads the import where there is one, else the merchant's report. (Before this, a
-- merchant's report replaced the imported tax figure of its day.)
ALTER TABLE turnover DROP CONSTRAINT turnover_pkey,
    ADD CONSTRAINT turnover_pkey PRIMARY KEY (credit_code, date, source);

-- One figure per merchant and day, as recovery uses it.
CREATE VIEW turnover_used AS
SELECT DISTINCT ON (credit_code, date) credit_code, date, category, sales_fen, transactions,
       source, recorded_at
FROM turnover
ORDER BY credit_code, date, source = 'import' DESC;
