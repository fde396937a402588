"""Review queue of incoming notifications (mounted under ``exchange/review/`` by
``popreg.exchange.urls``; names in the ``exchange`` namespace)."""

from django.urls import URLPattern, URLResolver, path

from popreg.exchange import views_review

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views_review.review_list, name="review"),
    path("<int:pk>/", views_review.review_detail, name="review_detail"),
    path("<int:pk>/accept/", views_review.review_accept, name="review_accept"),
    path("<int:pk>/link/", views_review.review_link, name="review_link"),
    path("<int:pk>/reject/", views_review.review_reject, name="review_reject"),
]
