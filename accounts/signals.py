"""Signals the accounts app sends, for apps to its right (audit) to listen to.

accounts never writes audit events itself (DESIGN.md: audit.services is the only writer).
"""

from django.dispatch import Signal

# Sent once per user a platform admin approves. kwargs: user (the approved User),
# approved_by (the admin User, or None), request (or None).
user_approved = Signal()
