-- owner: service/domain/categories.py
-- name: list_categories
-- The four festival categories in display order.
SELECT code, name_zh, name_en FROM categories ORDER BY sort_order;
