"""The reps pages, mounted at /reps/."""

from django.urls import path

from reps import views

app_name = "reps"
urlpatterns = [
    path("", views.rep_list_page, name="rep-list"),
    path("export.csv", views.rep_export, name="rep-export"),
    path("new/", views.rep_edit, name="rep-create"),
    path("<int:pk>/", views.rep_detail, name="rep-detail"),
    path("<int:pk>/edit/", views.rep_edit, name="rep-edit"),
    path("coverage/", views.coverage_page, name="coverage"),
    path("coverage/export.csv", views.coverage_export, name="coverage-export"),
    path("match/", views.match_page, name="match"),
    path("plan/", views.call_plan, name="call-plan"),
    path("plan.ics", views.call_plan_export, name="call-plan-ics"),
    path("me/", views.my_book, name="my-book"),
    path("me/accounts/<int:pk>/", views.my_account, name="my-account"),
]
