import path from 'node:path';
import ts from 'typescript';

/**
 * Every symbol the package exports, and every member of an exported interface or type,
 * carries a doc comment (the README promises TSDoc on the public surface; this keeps it true).
 */
describe('TSDoc on the public surface', () => {
  const entry = path.join(__dirname, '..', 'lib', 'index.ts');
  const program = ts.createProgram([entry], {
    strict: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.Preserve,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    types: [],
    skipLibCheck: true,
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(entry) as ts.SourceFile;
  const exported = checker.getExportsOfModule(checker.getSymbolAtLocation(source) as ts.Symbol);
  const real = (s: ts.Symbol): ts.Symbol =>
    s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
  const documented = (s: ts.Symbol): boolean =>
    ts.displayPartsToString(s.getDocumentationComment(checker)).trim() !== '';

  it('the index exports the public API', () => {
    expect(exported.map((s) => s.name)).toEqual(
      expect.arrayContaining([
        'createManagementRouter',
        'openApiDocument',
        'createTempConfig',
        'ManagementRouter',
      ]),
    );
  });

  it('every exported symbol has a doc comment', () => {
    expect(exported.filter((s) => !documented(real(s))).map((s) => s.name)).toEqual([]);
  });

  it('every member of an exported interface has a doc comment (the `kind` tags aside)', () => {
    const missing: string[] = [];
    for (const s of exported.map(real)) {
      if (!(s.flags & ts.SymbolFlags.Interface)) continue;
      for (const member of checker.getDeclaredTypeOfSymbol(s).getProperties()) {
        const decl = member.declarations?.[0];
        if (decl && !decl.getSourceFile().fileName.includes(`${path.sep}lib${path.sep}`)) continue; // inherited from express
        if (member.name === 'kind') continue; // the union's tag: its literal type says it all
        if (!documented(member)) missing.push(`${s.name}.${member.name}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
