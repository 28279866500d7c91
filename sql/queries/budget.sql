-- owner: service/domain/budget.py
-- name: budget_usage
-- Per category (or one, :category): its budget (null: none), what is committed at :now —
-- face value of active vouchers, plus face value × unclaimed stock of batches still to be
-- claimed (scheduled or open, paused included) and of undrawn lotteries — and what is spent
-- (−subsidy:C in the ledger: discounts of completed redemptions less clawbacks).
SELECT c.code AS category, bu.budget_fen,
       coalesce((SELECT sum(b.face_value_fen)::bigint
                 FROM vouchers v JOIN batches b ON b.id = v.batch_id
                 WHERE b.category = c.code AND v.status = 'active' AND v.expires_at > :now), 0)
       + coalesce((SELECT sum(b.face_value_fen::bigint * (b.quantity - b.claimed))::bigint
                   FROM batches b
                   WHERE b.category = c.code
                     AND CASE b.mode WHEN 'lottery' THEN b.drawn_at IS NULL
                                     ELSE :now < b.claim_ends_at END), 0) AS committed_fen,
       coalesce((SELECT -l.balance_fen FROM ledger_balances l
                 WHERE l.account = 'subsidy:' || c.code), 0) AS spent_fen
FROM categories c LEFT JOIN budgets bu ON bu.category = c.code
WHERE :category::text IS NULL OR c.code = :category
ORDER BY c.sort_order;

-- name: lock_budget
-- Batch edits of a category take turns here, so two of them never both fit the same room.
SELECT budget_fen FROM budgets WHERE category = :category FOR UPDATE;

-- name: ensure_budget_row
INSERT INTO budgets (category, budget_fen, updated_at) VALUES (:category, 0, :now)
ON CONFLICT (category) DO NOTHING;

-- name: set_budget
UPDATE budgets SET budget_fen = :budget_fen, updated_at = :now WHERE category = :category;
