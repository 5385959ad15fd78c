;; RUN: validate % --wit ../fixtures/missing-dep
;; RUN: inspect ../fixtures/missing-dep
(component)
