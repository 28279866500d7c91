-- owner: service/domain/server_keys.py
-- name: load_app_keys
SELECT name, key FROM app_keys;
