-- Paying merchants: the bank account a settlement line is paid to (shown masked everywhere
-- but the bank file), and the bank files themselves.
ALTER TABLE merchants
    ADD COLUMN account_name text,
    ADD COLUMN account_no text,
    ADD CONSTRAINT merchants_account_no_format CHECK (account_no ~ '^[0-9]{10,30}$'),
    ADD CONSTRAINT merchants_account_complete CHECK ((account_name IS NULL) = (account_no IS NULL));
