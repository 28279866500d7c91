"""HTTP API of the 春暖槐荫消费节 voucher backend."""
