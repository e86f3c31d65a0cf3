"""Program enrolments: which events enrol which contacts, tracked one row per enrolment."""
