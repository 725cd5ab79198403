declare module 'asl-validator' {
  const validator: (definition: unknown, options?: { checkPaths?: boolean; checkArn?: boolean }) => { isValid: boolean; errors: Array<{ message: string; path?: string }> };
  export default validator;
}
