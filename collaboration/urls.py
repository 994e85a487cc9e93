from django.urls import path

from collaboration import views

app_name = "collaboration"

urlpatterns = [
    path("", views.request_list, name="request-list"),
    path("requests/new/", views.request_create, name="request-create"),
    path("requests/<int:pk>/", views.request_detail, name="request-detail"),
    path("requests/<int:pk>/decide/", views.request_decide, name="request-decide"),
    path("requests/<int:pk>/refresh/", views.request_refresh, name="request-refresh"),
    path("requests/<int:pk>/withdraw/", views.request_withdraw, name="request-withdraw"),
    path("threads/<slug:target_type>/<int:pk>/", views.thread, name="thread"),
    path("threads/<slug:target_type>/<int:pk>/comment/", views.comment_create, name="comment-create"),
    path("notifications/", views.notification_page, name="notifications"),
    path("notifications/read/", views.notification_read, name="notification-read"),
    path("plans/", views.plan_list, name="plan-list"),
    path("plans/new/", views.plan_create, name="plan-create"),
    path("plans/<int:pk>/", views.plan_detail, name="plan-detail"),
    path("plans/<int:pk>/<slug:step>/", views.plan_step, name="plan-step"),
    path("scenarios/<int:pk>/share/", views.share_manage, name="share-manage"),
    path("shared/<str:token>/", views.shared_view, name="shared"),
]
