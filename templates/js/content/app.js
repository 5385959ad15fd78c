// The {{ name }} component.

export const greeter = {
  greet(name) {
    return `{{ greeting }}, ${name}!`;
  },
};
