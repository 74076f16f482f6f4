from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from portal.auth import bp, services
from portal.auth.forms import LoginForm
from portal.extensions import db
from portal.web import public


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.find_by_login(form.login.data)
        if user is not None and user.is_active and services.check_password(user, form.password.data):
            user.last_login_at = services.utcnow()
            db.session.commit()
            login_user(user, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")))
        form.login.errors.append(_("The mobile number, e-mail or password is not right."))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    flash(_("You have signed out."), "info")
    return redirect(url_for("home.index"))


# Placeholders so every page renders while the account pages are being written; replaced in full.
@bp.route("/register", methods=["GET", "POST"])
@public
def register():
    return render_template("error.html", code=501, title="Register", text="Coming soon"), 501


@bp.get("/account")
def profile():
    return render_template("error.html", code=501, title="Account", text="Coming soon"), 501


@bp.get("/privacy")
@public
def privacy():
    return render_template("error.html", code=501, title="Privacy", text="Coming soon"), 501


@bp.route("/forgot-password", methods=["GET", "POST"])
@public
def forgot_password():
    return render_template("error.html", code=501, title="Forgot", text="Coming soon"), 501
