;; RUN: validate % --wit ../fixtures/bad-syntax.wit
;; RUN: inspect ../fixtures/bad-syntax.wit
(component)
