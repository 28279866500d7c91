"""The demo festival: 春暖槐荫消费节 as it ran in May 2020, loaded through the live code."""
