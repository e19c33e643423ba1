from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render


@login_required
def awaiting_approval(request: HttpRequest) -> HttpResponse:
    if request.user.is_approved:
        return redirect("home")
    return render(request, "accounts/awaiting_approval.html")
