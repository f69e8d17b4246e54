"""Date and time formats for English (FORMAT_MODULE_PATH): times to the second.

The admin shows events, deliveries and sync cycles seconds apart; Django's own English format
("Dec. 7, 2026, 4:27 p.m.") would show them all at the same minute.
"""

DATETIME_FORMAT = "Y-m-d H:i:s"
SHORT_DATETIME_FORMAT = "Y-m-d H:i:s"
TIME_FORMAT = "H:i:s"
