"""Signals the workspaces app sends; the audit app (which sits above us) records them.

`workspace_event.send(sender=Workspace, action="workspace.created", actor=user, workspace=ws,
target=obj_or_None, details={...}, request=request_or_None)`
"""

from django.dispatch import Signal

workspace_event = Signal()
