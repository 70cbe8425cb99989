"""One date format across the admin (lists, history, detail pages): ISO-like, 24 h, with the zone.

Django's English default ("Nov. 30, 2026, 9:37 a.m.") sat next to the history compare page's
"2026-11-30 09:37:12"; every page now reads the second way. Times are UTC (TIME_ZONE).
"""

DATETIME_FORMAT = "Y-m-d H:i T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i"
