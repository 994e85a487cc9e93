from django.urls import path

from core import views

app_name = "core"
urlpatterns = [path("<int:pk>/", views.job_detail, name="job-detail")]
